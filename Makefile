# aca — build, test, demo.  `make` builds build/aca; `make test` runs every test; `make demo` runs the
# main job on the embedded default.  Options: SAN=1 (ASan/UBSan), CUDA_ARCH="70 80 90", NO_CUDA=1,
# CUDA_HOME=/path.  Dependencies are Debian packages found with pkg-config (scripts/deps.sh installs them).

# `all` is the default even though a rule for util.o appears above it (the git-revision rule).
.DEFAULT_GOAL := all

CC       ?= cc
CXX      ?= c++
BUILD    ?= build
PKGS     := libcjson libutf8proc openblas sentencepiece
OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
DEPFLAGS := -MMD -MP

# pkg-config is probed lazily so that `make deps` can run before the packages exist.
PC_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PC_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS   += -std=c11 $(OPT) -g $(WARN) $(DEPFLAGS) -D_GNU_SOURCE -fopenmp -Iinclude $(PC_CFLAGS)
CXXFLAGS += -std=c++17 $(OPT) -g $(WARN) $(DEPFLAGS) -fopenmp -Iinclude $(PC_CFLAGS)
LDLIBS   += $(PC_LIBS) -lstdc++ -lm -lpthread -fopenmp

ifeq ($(SAN),1)
  BUILD    := build/san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  CFLAGS   += $(SANFLAGS)
  CXXFLAGS += $(SANFLAGS)
  LDFLAGS  += $(SANFLAGS)
  NO_CUDA  := 1
endif

# libFuzzer builds (`make fuzz`): clang, ASan + UBSan, objects under build/fuzz; see fuzz/*.c.
ifeq ($(FUZZ),1)
  CC       := clang
  CXX      := clang++
  BUILD    := build/fuzz
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  CFLAGS   += $(SANFLAGS)
  CXXFLAGS += $(SANFLAGS) -fno-sanitize=vptr # vptr checks need the C++ UBSan runtime; we link with the C driver
  NO_CUDA  := 1
endif

# ---- CUDA: optional, found through CUDA_HOME or nvcc on PATH -----------------------------------
ifneq ($(NO_CUDA),1)
  ifneq ($(CUDA_HOME),)
    NVCC := $(wildcard $(CUDA_HOME)/bin/nvcc)
  else
    NVCC := $(shell command -v nvcc 2>/dev/null)
    ifeq ($(NVCC),)
      NVCC := $(wildcard /usr/local/cuda/bin/nvcc) # the toolkit's default prefix
    endif
  endif
endif
CUDA_ARCH ?= 70 80 90
NPROC := $(shell nproc 2>/dev/null || echo 2)
CU_SRC := $(wildcard kernels/cuda/*.cu)
ifeq ($(CU_SRC),)
  NVCC := # no CUDA sources yet: a CPU-only build, ACA_HAVE_CUDA stays undefined
endif
ifneq ($(NVCC),)
  CUDA_ROOT   := $(patsubst %/bin/nvcc,%,$(NVCC))
  NVCC_ARCHES := $(shell $(NVCC) --list-gpu-arch 2>/dev/null | sed -n 's/compute_//p')
  ARCH_OK     := $(filter $(NVCC_ARCHES),$(CUDA_ARCH))
  ARCH_DROP   := $(filter-out $(NVCC_ARCHES),$(CUDA_ARCH))
  GENCODE     := $(foreach a,$(ARCH_OK),-gencode arch=compute_$(a),code=sm_$(a))
  NVCCFLAGS   += -std=c++17 -O3 -g -lineinfo -Iinclude $(GENCODE) -Xcompiler -Wall,-Werror,-Wno-unused-parameter \
                 -Xcudafe --display_error_number --expt-relaxed-constexpr -MMD -MP
  CUDNN_H     := $(firstword $(wildcard $(CUDA_ROOT)/include/cudnn.h /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h))
  CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_ROOT)/lib64 $(CUDA_ROOT)/targets/x86_64-linux/lib))
  CFLAGS      += -DACA_HAVE_CUDA=1
  NVCCFLAGS   += -DACA_HAVE_CUDA=1
  LDLIBS      += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublasLt -lcublas -lcudart
  ifneq ($(CUDNN_H),)
    NVCCFLAGS += -DACA_HAVE_CUDNN=1 -I$(dir $(CUDNN_H))
    CFLAGS    += -DACA_HAVE_CUDNN=1
    LDLIBS    += -lcudnn
  endif
  CU_OBJ := $(CU_SRC:%.cu=$(BUILD)/%.o)
else
  CU_OBJ :=
endif

# ---- sources -----------------------------------------------------------------------------------
LIB_C   := $(wildcard src/*.c tokenizer/*.c models/*.c kernels/*.c kernels/cpu/*.c)
LIB_CXX := $(wildcard tokenizer/*.cc)
CLI_C   := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CXX:%.cc=$(BUILD)/%.o) $(CU_OBJ)
CLI_OBJ := $(CLI_C:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libaca.a
BIN     := $(BUILD)/aca

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
GPU_TEST_SRC := $(wildcard tests/gpu/test_*.c)
GPU_TEST_BIN := $(if $(NVCC),$(GPU_TEST_SRC:tests/gpu/%.c=$(BUILD)/tests/gpu/%))
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# The git revision is baked into util.o; gitrev.h changes only when the revision does.
GITREV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
$(shell mkdir -p $(BUILD); echo '#define ACA_GIT_REV "$(GITREV)"' > $(BUILD)/gitrev.h.new; cmp -s $(BUILD)/gitrev.h.new $(BUILD)/gitrev.h || mv $(BUILD)/gitrev.h.new $(BUILD)/gitrev.h)
$(BUILD)/src/util.o: CFLAGS += -include $(BUILD)/gitrev.h
$(BUILD)/src/util.o: $(BUILD)/gitrev.h

.PHONY: all deps test test-gpu demo bench clean sass fuzz cuda-notice
all: cuda-notice $(BIN)

cuda-notice:
ifeq ($(NVCC),)
	@echo "aca: nvcc not found (set CUDA_HOME or put nvcc on PATH): building the CPU backend only"
else ifneq ($(ARCH_DROP),)
	@echo "aca: $(NVCC) cannot target sm_$(ARCH_DROP); building for sm_$(ARCH_OK)"
endif

deps:
	@scripts/deps.sh

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Tests: every tests/test_*.c is a cmocka program run from the repo root; any failure fails `make test`.
test: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all tests-build
	@scripts/run_tests.sh $(TEST_BIN)

tests-build: $(TEST_BIN) $(BENCH_BIN)

test-gpu: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(GPU_TEST_BIN)
	@scripts/run_gpu_tests.sh $(GPU_TEST_BIN)

demo: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all
	$(BIN) demo

bench: all $(BENCH_BIN)

# libFuzzer targets: `make fuzz` builds build/fuzz/bin/fuzz_* (clang, ASan + UBSan); each fuzz/*.c says
# how to run it.
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/bin/%,$(wildcard fuzz/fuzz_*.c))
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 -j$(NPROC) $(FUZZ_BIN)

build/fuzz/bin/%: fuzz/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# SASS/PTX and the compiler's register/spill report for the CUDA kernels.
sass: $(CU_OBJ)
	@for o in $(CU_OBJ); do echo "== $$o"; cuobjdump -res-usage $$o; done

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
