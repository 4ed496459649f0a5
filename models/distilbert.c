// DistilBertForSequenceClassification (transformers modeling_distilbert.py): word + position
// embeddings, LayerNorm (eps 1e-12), dropout; per layer q/k/v/out_lin, dropout on attention
// probabilities, NO dropout after out_lin, residual + sa_layer_norm; FFN lin1 -> activation -> lin2 ->
// dropout, residual + output_layer_norm.  Head: [CLS] -> pre_classifier -> ReLU ->
// dropout(seq_classif_dropout) -> classifier.  The computation is models/encoder*.c; this is the naming.
#include "model_arch.h"

const model_arch MODEL_ARCH_DISTILBERT = {
    .prefix = "distilbert",
    .hf_class = "DistilBertForSequenceClassification",
    .cfg_dim = "dim",
    .cfg_heads = "n_heads",
    .cfg_ffn = "hidden_dim",
    .cfg_att_drop = "attention_dropout",
    .wte = "embeddings.word_embeddings.weight",
    .wpe = "embeddings.position_embeddings.weight",
    .tte = NULL,
    .emb_ln_w = "embeddings.LayerNorm.weight",
    .emb_ln_b = "embeddings.LayerNorm.bias",
    .q_w = "transformer.layer.%d.attention.q_lin.weight",
    .q_b = "transformer.layer.%d.attention.q_lin.bias",
    .k_w = "transformer.layer.%d.attention.k_lin.weight",
    .k_b = "transformer.layer.%d.attention.k_lin.bias",
    .v_w = "transformer.layer.%d.attention.v_lin.weight",
    .v_b = "transformer.layer.%d.attention.v_lin.bias",
    .o_w = "transformer.layer.%d.attention.out_lin.weight",
    .o_b = "transformer.layer.%d.attention.out_lin.bias",
    .ln1_w = "transformer.layer.%d.sa_layer_norm.weight",
    .ln1_b = "transformer.layer.%d.sa_layer_norm.bias",
    .f1_w = "transformer.layer.%d.ffn.lin1.weight",
    .f1_b = "transformer.layer.%d.ffn.lin1.bias",
    .f2_w = "transformer.layer.%d.ffn.lin2.weight",
    .f2_b = "transformer.layer.%d.ffn.lin2.bias",
    .ln2_w = "transformer.layer.%d.output_layer_norm.weight",
    .ln2_b = "transformer.layer.%d.output_layer_norm.bias",
    .head_w = "pre_classifier.weight",
    .head_b = "pre_classifier.bias",
    .cls_w = "classifier.weight",
    .cls_b = "classifier.bias",
    .head_dense_in_base = 0,
    .head_act = ACA_ACT_RELU,
    .attn_out_dropout = 0,
};
