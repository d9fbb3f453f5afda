// Pieces shared by the port contract suites (src/**/*_contract_test.cc): a factory entry naming an
// adapter, a fixture that makes a fresh harness for it before each test (failing the test, with
// the harness's reason, when the adapter cannot be set up), and the name generator that puts the
// adapter's name on each test. Part of retention::testing; header-only (it uses GoogleTest).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"

namespace retention::testing {

// One entry of a suite's factory table: a new adapter of the port is one more entry.
template <class Harness>
struct AdapterFactory {
  const char* name;
  std::function<std::unique_ptr<Harness>()> make;
};

// `Harness` has `std::string error() const`, empty when the adapter is ready.
template <class Harness>
class AdapterContract : public ::testing::TestWithParam<AdapterFactory<Harness>> {
 protected:
  void SetUp() override {
    harness_ = this->GetParam().make();
    ASSERT_TRUE(harness_->error().empty()) << harness_->error();
  }
  std::unique_ptr<Harness> harness_;
};

// Moves what `opened` holds into `into`, or, when it failed, writes its status into `error` (the
// harness's error()). For harness constructors that open an adapter.
template <class Held, class Opened>
void TakeOrKeepError(Result<std::unique_ptr<Opened>> opened, std::unique_ptr<Held>& into,
                     std::string& error) {
  if (opened.ok()) {
    into = std::move(opened).value();
  } else {
    error = opened.status().ToString();
  }
}

// The factory entry that makes an `Impl` as a `Harness`.
template <class Harness, class Impl>
std::unique_ptr<Harness> MakeHarness() {
  return std::make_unique<Impl>();
}

// INSTANTIATE_TEST_SUITE_P's name generator: "Adapters/SuiteName.Test/<adapter name>".
struct AdapterName {
  template <class Param>
  std::string operator()(const ::testing::TestParamInfo<Param>& p) const {
    return p.param.name;
  }
};

}  // namespace retention::testing
