// BertForSequenceClassification (transformers modeling_bert.py): word + position + token-type
// embeddings, LayerNorm (layer_norm_eps), dropout; per layer query/key/value, dropout on attention
// probabilities, attention output dense -> dropout, residual + LayerNorm; intermediate dense ->
// activation, output dense -> dropout, residual + LayerNorm.  Pooler: [CLS] -> dense -> tanh; then
// dropout(classifier_dropout, or hidden_dropout_prob when null) -> classifier.  The computation is
// models/encoder*.c; this is the naming.
#include "model_arch.h"

const model_arch MODEL_ARCH_BERT = {
    .prefix = "bert",
    .hf_class = "BertForSequenceClassification",
    .cfg_dim = "hidden_size",
    .cfg_heads = "num_attention_heads",
    .cfg_ffn = "intermediate_size",
    .cfg_att_drop = "attention_probs_dropout_prob",
    .wte = "embeddings.word_embeddings.weight",
    .wpe = "embeddings.position_embeddings.weight",
    .tte = "embeddings.token_type_embeddings.weight",
    .emb_ln_w = "embeddings.LayerNorm.weight",
    .emb_ln_b = "embeddings.LayerNorm.bias",
    .q_w = "encoder.layer.%d.attention.self.query.weight",
    .q_b = "encoder.layer.%d.attention.self.query.bias",
    .k_w = "encoder.layer.%d.attention.self.key.weight",
    .k_b = "encoder.layer.%d.attention.self.key.bias",
    .v_w = "encoder.layer.%d.attention.self.value.weight",
    .v_b = "encoder.layer.%d.attention.self.value.bias",
    .o_w = "encoder.layer.%d.attention.output.dense.weight",
    .o_b = "encoder.layer.%d.attention.output.dense.bias",
    .ln1_w = "encoder.layer.%d.attention.output.LayerNorm.weight",
    .ln1_b = "encoder.layer.%d.attention.output.LayerNorm.bias",
    .f1_w = "encoder.layer.%d.intermediate.dense.weight",
    .f1_b = "encoder.layer.%d.intermediate.dense.bias",
    .f2_w = "encoder.layer.%d.output.dense.weight",
    .f2_b = "encoder.layer.%d.output.dense.bias",
    .ln2_w = "encoder.layer.%d.output.LayerNorm.weight",
    .ln2_b = "encoder.layer.%d.output.LayerNorm.bias",
    .head_w = "pooler.dense.weight",
    .head_b = "pooler.dense.bias",
    .cls_w = "classifier.weight",
    .cls_b = "classifier.bias",
    .head_dense_in_base = 1,
    .head_act = ACA_ACT_TANH,
    .attn_out_dropout = 1,
};
