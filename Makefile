# The two commands of the README:
#   make run   installs what is missing, builds, starts `retention serve` on embedded defaults
#   make test  installs what is missing, builds with -Werror, runs every test suite
BUILD_DIR ?= build
TEST_BUILD_DIR ?= build-ci
JOBS ?= 2

.PHONY: all deps build run test format clean

all: build

deps:
	@bash tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target retention

run: build
	@bash tools/run.sh $(BUILD_DIR)/apps/retention/retention

test: deps
	@cmake -S . -B $(TEST_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DWERROR=ON >/dev/null
	@cmake --build $(TEST_BUILD_DIR) -j$(JOBS)
	@ctest --test-dir $(TEST_BUILD_DIR) -j$(JOBS) --output-on-failure

format:
	@bash tools/format.sh

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR)
