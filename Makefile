# The two commands a newcomer needs: `make demo` and `make test`. Both set up the machine first.
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: setup build demo test bench-fer

setup:
	@scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

# The demo on the embedded defaults: the committed model, through its card. Until `infer`
# exists this times it and, where FER2013 is at hand, evaluates it on PrivateTest.
demo: build
	scripts/demo.sh

# Unit and integration tests. Tests that need the real data read ../shared and skip, saying
# why, when it is absent. Built once in release: the tests train small networks.
test: setup
	$(CARGO) test --release --locked -- --show-output

bench-fer: build
	target/release/workbench bench-fer --model models/fer-default.json
