# The two commands a newcomer needs: `make demo` and `make test`. Both set up the machine first.
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup build demo serve test lint bench-fer bench-cluster bench-infer bench-serve

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

# The demo on the embedded defaults: `infer` on the committed clip with the committed models.
demo: build
	scripts/demo.sh

# The web app on the embedded defaults: http://127.0.0.1:8080/ (loopback only).
serve: build
	$${CARGO_TARGET_DIR:-target}/release/workbench serve

# Unit and integration tests. Tests that need the real data read ../shared and skip, saying
# why, when it is absent (with WORKBENCH_REQUIRE_DATA=1, as .ci/run sets, they fail instead).
# Built once in release: the tests train small networks.
test: setup
	$(CARGO) test --release --locked -- --show-output

# The house rules CI holds: rustfmt's layout and no clippy warnings in any target.
lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

bench-fer: build
	$${CARGO_TARGET_DIR:-target}/release/workbench bench-fer --model models/fer-default.json

# The cluster job against scikit-learn on 170,653 bootstrapped real songs (needs ../shared and
# a Python with scikit-learn: PYTHON=/path/to/python).
bench-cluster: build
	benches/cluster.sh

# Frames/s and whole-process wall time of `infer` on the shipped clips.
bench-infer: build
	benches/infer.sh

# Per-frame latency of `serve` and one client's sustained frame rate.
bench-serve: setup
	$(CARGO) bench --locked --bench serve_latency
