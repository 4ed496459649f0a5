// A model's configuration: the Hugging Face config.json of DistilBERT and BERT (architecture,
// sizes, dropout, class names), parsed with its aliases, validated, and written back in the form
// transformers loads.  A description, apart from the model itself: code that only reads a config
// (the grid's checks) needs neither the model nor the ops; model.h builds a model from one.
#ifndef ACA_CONFIG_H
#define ACA_CONFIG_H

#include "aca/act.h"
#include "aca/util.h"

typedef enum { ACA_ARCH_DISTILBERT = 0, ACA_ARCH_BERT } aca_arch;

// Hugging Face config.json fields (with their aliases: dim/hidden_size, n_layers/num_hidden_layers,
// n_heads/num_attention_heads, hidden_dim/intermediate_size, activation/hidden_act, ...).
typedef struct {
    aca_arch arch;
    int vocab_size;
    int max_position;    // max_position_embeddings
    int type_vocab_size; // BERT only (0 for DistilBERT)
    int dim;             // hidden size C
    int n_layers;
    int n_heads;
    int hidden_dim; // FFN inner size
    aca_act activation;
    float dropout;            // hidden dropout
    float attention_dropout;  // dropout on attention probabilities
    float classifier_dropout; // DistilBERT seq_classif_dropout; BERT classifier_dropout or hidden dropout
    float initializer_range;
    float layer_norm_eps; // DistilBERT: 1e-12 (hard-coded in HF); BERT: layer_norm_eps
    int pad_token_id;
    int num_labels;
    char **labels; // num_labels class names (id2label), or NULL
} aca_config;

int config_load(const char *path, aca_config *c, aca_err *e);
int config_parse(const char *json, const char *path_for_errors, aca_config *c, aca_err *e);
// HF-loadable config.json text (architectures, model_type, id2label/label2id, ...).
void config_to_json(const aca_config *c, aca_buf *out);
void config_free(aca_config *c);
// Sets num_labels and the class names (copied).
void config_set_labels(aca_config *c, int n, const char *const *names);

#endif
