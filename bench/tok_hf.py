#!/usr/bin/env python3
"""Hugging Face's fast tokenizer (the Rust `tokenizers` library, as BertTokenizerFast uses it) on the
texts bench_tokenizer wrote, in MB/s of UTF-8 text: one thread, then all cores (encode_batch), whole
documents without special tokens, median of --reps runs.  Prints the total token count, which must
equal bench_tokenizer's.

    pip install tokenizers
    build/bench/bench_tokenizer --dir /tmp/tokbench
    python3 bench/tok_hf.py /tmp/tokbench/texts.jsonl [--vocab models/vocab/bert-base-uncased.txt]

The thread count of the Rust library is fixed when it starts, so each mode runs in its own process.
"""
import argparse, json, os, statistics, subprocess, sys, time


def run_mode(texts_path, vocab, reps):
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(vocab, lowercase=True, strip_accents=None, clean_text=True,
                                 handle_chinese_chars=True)
    texts = [json.loads(l)["text"] for l in open(texts_path, encoding="utf-8") if l.strip()]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    times, ntok = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        enc = tok.encode_batch(texts, add_special_tokens=False)
        times.append(time.perf_counter() - t0)
        ntok = sum(len(x.ids) for x in enc)
    print(json.dumps({"seconds": statistics.median(times), "bytes": nbytes, "tokens": ntok, "docs": len(texts)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("texts")
    ap.add_argument("--vocab", default="models/vocab/bert-base-uncased.txt")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mode", choices=["1", "all"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.mode:
        return run_mode(a.texts, a.vocab, a.reps)
    import tokenizers
    cores = os.cpu_count()
    print(f"Hugging Face tokenizers {tokenizers.__version__} (BertWordPieceTokenizer), {a.texts}")
    print(f"{'':46s} {'seconds':>9s} {'MB/s':>9s} {'tokens/s':>12s}")
    for mode, threads in (("1", 1), ("all", cores)):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="true")
        out = subprocess.run([sys.executable, __file__, a.texts, "--vocab", a.vocab, "--reps", str(a.reps),
                              "--mode", mode], env=env, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        label = f"HF fast tokenizer, {threads} thread{'s' if threads > 1 else ''}, whole docs"
        print(f"{label:46s} {r['seconds']:9.3f} {r['bytes'] / 1e6 / r['seconds']:9.1f} "
              f"{r['tokens'] / r['seconds']:12.0f}   ({r['tokens']} tokens, {r['docs']} docs)")


if __name__ == "__main__":
    main()
