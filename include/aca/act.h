// The activation functions: what a model's config.json names (config.h) and the ops compute
// (ops.h act_forward/act_backward).  On its own so that the config needs nothing of the ops.
#ifndef ACA_ACT_H
#define ACA_ACT_H

typedef enum { ACA_ACT_GELU = 0, ACA_ACT_RELU, ACA_ACT_TANH } aca_act; // GELU is the exact erf form

#endif
