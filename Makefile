# aca — build, test, demo.  `make` builds build/aca; `make test` runs every test; `make demo` runs the
# main job on the embedded default.  Options: SAN=1 (ASan/UBSan), CUDA_ARCH="70 80 90", NO_CUDA=1,
# CUDA_HOME=/path.  Dependencies are Debian packages found with pkg-config (scripts/deps.sh installs them).

# `all` is the default even though a rule for sysinfo.o appears above it (the git-revision rule).
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
# sm_75/80/90 by default (nvcc 13 no longer targets sm_70; a V100 build needs a CUDA 12.x toolkit:
# CUDA_HOME=/usr/local/cuda-12.x CUDA_ARCH=70).
CUDA_ARCH ?= 75 80 90
NPROC := $(shell nproc 2>/dev/null || echo 2)
CU_SRC := $(wildcard kernels/cuda/*.cu)
ifeq ($(CU_SRC),)
  NVCC := # no CUDA sources yet: a CPU-only build, ACA_HAVE_CUDA stays undefined
endif
# cuDNN: CUDNN_HOME, the toolkit, the system, or PyPI's nvidia-cudnn-cu1x in python3's site-packages.
# The cuDNN attention path also needs the header-only cudnn-frontend: CUDNN_FRONTEND (its include
# folder), else what scripts/cudnn_frontend.sh fetched from PyPI into $(FE_DIR) (`make deps`).
PY_PURELIB  = $(shell python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null)
FE_VERSION  := 1.32.0
FE_DIR      := build/deps/cudnn-frontend-$(FE_VERSION)
ifneq ($(NVCC),)
  CUDA_ROOT   := $(patsubst %/bin/nvcc,%,$(NVCC))
  NVCC_ARCHES := $(shell $(NVCC) --list-gpu-arch 2>/dev/null | sed -n 's/compute_//p')
  ARCH_OK     := $(filter $(NVCC_ARCHES),$(CUDA_ARCH))
  ARCH_DROP   := $(filter-out $(NVCC_ARCHES),$(CUDA_ARCH))
  # machine code for each arch, plus the PTX of the oldest (forward compatibility; `make check-sm70`)
  GENCODE     := $(foreach a,$(ARCH_OK),-gencode arch=compute_$(a),code=sm_$(a)) \
                 -gencode arch=compute_$(firstword $(ARCH_OK)),code=compute_$(firstword $(ARCH_OK))
  NVCCFLAGS   += -std=c++17 -O3 -g -lineinfo -Iinclude $(GENCODE) -Xcompiler -Wall,-Werror,-Wno-unused-parameter \
                 -Xcudafe --display_error_number --expt-relaxed-constexpr -MMD -MP
  CUDNN_H     := $(firstword $(wildcard $(if $(CUDNN_HOME),$(CUDNN_HOME)/include/cudnn.h) $(CUDA_ROOT)/include/cudnn.h \
                   /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h $(PY_PURELIB)/nvidia/cudnn/include/cudnn.h))
  CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_ROOT)/lib64 $(CUDA_ROOT)/targets/x86_64-linux/lib))
  CFLAGS      += -DACA_HAVE_CUDA=1
  NVCCFLAGS   += -DACA_HAVE_CUDA=1
  LDLIBS      += -L$(CUDA_LIBDIR) -Wl,-rpath,$(CUDA_LIBDIR) -lcublasLt -lcublas -lcudart
  ifneq ($(CUDNN_H),)
    CUDNN_INC   := $(patsubst %/,%,$(dir $(CUDNN_H)))
    CUDNN_LIBDIR := $(firstword $(wildcard $(CUDNN_INC)/../lib64/libcudnn.so* $(CUDNN_INC)/../lib/libcudnn.so* \
                      /usr/lib/x86_64-linux-gnu/libcudnn.so* $(CUDA_LIBDIR)/libcudnn.so*))
    CUDNN_LIBDIR := $(patsubst %/,%,$(dir $(CUDNN_LIBDIR)))
    CUDNN_LIB   := $(if $(wildcard $(CUDNN_LIBDIR)/libcudnn.so),-lcudnn,-l:libcudnn.so.9)
    NVCCFLAGS += -DACA_HAVE_CUDNN=1 -I$(CUDNN_INC)
    CFLAGS    += -DACA_HAVE_CUDNN=1
    LDLIBS    += $(if $(CUDNN_LIBDIR),-L$(CUDNN_LIBDIR) -Wl$(,)-rpath$(,)$(CUDNN_LIBDIR)) $(CUDNN_LIB)
    FE_INC    := $(firstword $(wildcard $(if $(CUDNN_FRONTEND),$(CUDNN_FRONTEND)/cudnn_frontend.h) \
                   $(FE_DIR)/include/cudnn_frontend.h $(PY_PURELIB)/include/cudnn_frontend.h))
    FE_INC    := $(patsubst %/,%,$(dir $(FE_INC)))
  endif
  ifneq ($(FE_INC),)
    CUDNN_CC_SRC := $(wildcard kernels/cuda/*.cc)
    NVCCFLAGS += -DACA_HAVE_CUDNN_FE=1
    CFLAGS    += -DACA_HAVE_CUDNN_FE=1
    LDLIBS    += -lnvrtc # the frontend's runtime-compiled engines
  endif
  CU_OBJ := $(CU_SRC:%.cu=$(BUILD)/%.o) $(CUDNN_CC_SRC:%.cc=$(BUILD)/%.o)
else
  CU_OBJ :=
endif
, := ,

# ---- sources -----------------------------------------------------------------------------------
LIB_C   := $(wildcard src/base/*.c src/*.c tokenizer/*.c models/*.c kernels/*.c kernels/cpu/*.c)
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
# The golden test's normaliser (tests/golden/README.md); tests/test_golden runs it.
GOLDEN_BIN := $(BUILD)/tests/golden/golden
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# The git revision is baked into sysinfo.o; gitrev.h changes only when the revision does.
GITREV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
$(shell mkdir -p $(BUILD); echo '#define ACA_GIT_REV "$(GITREV)"' > $(BUILD)/gitrev.h.new; cmp -s $(BUILD)/gitrev.h.new $(BUILD)/gitrev.h || mv $(BUILD)/gitrev.h.new $(BUILD)/gitrev.h)
$(BUILD)/src/base/sysinfo.o: CFLAGS += -include $(BUILD)/gitrev.h
$(BUILD)/src/base/sysinfo.o: $(BUILD)/gitrev.h

.PHONY: all deps test test-gpu demo bench clean sass fuzz cuda-notice check-sm70 check-layers
all: cuda-notice $(BIN)

cuda-notice:
ifeq ($(NVCC),)
	@echo "aca: nvcc not found (set CUDA_HOME or put nvcc on PATH): building the CPU backend only"
else
ifneq ($(ARCH_DROP),)
	@echo "aca: $(NVCC) cannot target sm_$(ARCH_DROP); building for sm_$(ARCH_OK)"
endif
ifeq ($(CUDNN_H),)
	@echo "aca: cuDNN not found (set CUDNN_HOME): building without the cuDNN attention path"
else ifeq ($(FE_INC),)
	@echo "aca: cudnn-frontend headers not found (make deps fetches them; or set CUDNN_FRONTEND): building without the cuDNN attention path"
endif
endif

deps:
	@scripts/deps.sh
ifneq ($(CUDNN_H),)
	@scripts/cudnn_frontend.sh $(FE_VERSION) $(FE_DIR)
endif

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

# nvcc keeps the oldest arch's PTX (the one the fat binary embeds) for `make check-sm70`.
$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@) $(BUILD)/ptx $(BUILD)/keep/$(notdir $*)
	$(NVCC) $(NVCCFLAGS) --keep --keep-dir $(BUILD)/keep/$(notdir $*) -c $< -o $@
	@mv $(BUILD)/keep/$(notdir $*)/$(notdir $*).compute_$(firstword $(ARCH_OK)).ptx $(BUILD)/ptx/ && rm -rf $(BUILD)/keep/$(notdir $*)

# The cuDNN frontend shim: host C++ (the frontend is header-only), its headers as system headers;
# -O1 -g0: graph building is not hot, and the frontend's templates make -O2 -g builds take minutes.
$(BUILD)/kernels/cuda/%.o: kernels/cuda/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -O1 -g0 -DACA_HAVE_CUDA=1 -isystem $(FE_INC) -isystem $(CUDNN_INC) -isystem $(CUDA_ROOT)/include -c $< -o $@

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/ops_coverage.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) $(CMOCKA_LIBS) $(LDLIBS)

$(BUILD)/bench/%: bench/%.c bench/bench_coverage.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Tests: every tests/test_*.c is a cmocka program run from the repo root; any failure fails `make test`.
test: deps check-layers
	@$(MAKE) --no-print-directory -j$(NPROC) all tests-build
	@$(MAKE) --no-print-directory check-sm70
	@scripts/run_tests.sh $(TEST_BIN)

# A CUDA 12 ptxas for the sm_70 assemble check: PTXAS_SM70, else PyPI's nvidia-cuda-nvcc-cu12 in
# python3's site-packages, $VIRTUAL_ENV, or a venv beside the checkout (../venv, .venv).
PTXAS_SM70 ?= $(firstword $(wildcard $(PY_PURELIB)/nvidia/cuda_nvcc/bin/ptxas \
                $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/lib/python3*/site-packages/nvidia/cuda_nvcc/bin/ptxas) \
                ../venv/lib/python3*/site-packages/nvidia/cuda_nvcc/bin/ptxas .venv/lib/python3*/site-packages/nvidia/cuda_nvcc/bin/ptxas))
check-sm70:
	@scripts/check_sm70.sh $(BUILD)/ptx $(PTXAS_SM70)

# The GPU tests are built here too (run by `make test-gpu`): their op coverage maps must compile.
tests-build: $(TEST_BIN) $(GPU_TEST_BIN) $(BENCH_BIN) $(GOLDEN_BIN)

# Layers only look down and modules include each other in a DAG (scripts/check_layers.sh says how).
check-layers:
	@scripts/check_layers.sh --self-test
	@scripts/check_layers.sh

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
