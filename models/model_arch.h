// What distinguishes DistilBERT from BERT for the shared encoder in models/encoder*.c: Hugging Face
// tensor and config field names, token-type embeddings, the head's activation, and where dropout
// sits.  Internal to models/.
#ifndef ACA_MODEL_ARCH_H
#define ACA_MODEL_ARCH_H

#include "aca/ops.h"

typedef struct {
    const char *prefix;    // base-model prefix of saved names: "distilbert", "bert"
    const char *hf_class;  // "DistilBertForSequenceClassification", ...
    // config.json field names (for messages): hidden size, heads, FFN size, attention dropout.
    const char *cfg_dim, *cfg_heads, *cfg_ffn, *cfg_att_drop;
    // Embeddings (no prefix): word, position, token type (NULL if none), LayerNorm weight and bias.
    const char *wte, *wpe, *tte, *emb_ln_w, *emb_ln_b;
    // Per-layer names: printf formats taking the layer index.  q, k, v, attention output, first
    // LayerNorm, FFN in/out, second LayerNorm; "_w" weight, "_b" bias.
    const char *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b, *ln1_w, *ln1_b;
    const char *f1_w, *f1_b, *f2_w, *f2_b, *ln2_w, *ln2_b;
    // Head: [CLS] -> dense (head_w, head_b) -> head_act -> dropout -> classifier (cls_w, cls_b).
    const char *head_w, *head_b, *cls_w, *cls_b;
    int head_dense_in_base; // the dense layer belongs to the base model (BERT's pooler)
    aca_act head_act;       // DistilBERT ReLU, BERT tanh
    int attn_out_dropout;   // BERT: dropout after the attention output dense (DistilBERT: none)
} model_arch;

extern const model_arch MODEL_ARCH_DISTILBERT; // models/distilbert.c
extern const model_arch MODEL_ARCH_BERT;       // models/bert.c

#endif
