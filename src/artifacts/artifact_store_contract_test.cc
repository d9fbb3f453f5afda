// The ArtifactStore contract (artifacts/artifact_store.h) as tests, run against every adapter in
// kArtifactBackends: put, size and replace; idempotent delete (a missing key counts as deleted);
// DeleteMany and SizeMany answering per key, in order, with Delete's and Size's meanings; invalid
// keys refused by every operation without a change; writing one key never touching another. What
// only one backend shows (pruned folders, symbolic links, permissions) stays in its own test: S3
// has no symbolic links, so the link contract is the local store's alone
// (local_artifact_store_test.cc). An adapter plugs in with one entry in kArtifactBackends; S3's
// runs on s3rver (testing/s3_server.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "artifacts/artifact_store.h"
#include "artifacts/local/local_artifact_store.h"
#include "testing/contract.h"
#include "testing/s3_server.h"
#include "testing/test_support.h"

namespace retention {
namespace {

// One adapter under test. `open` opens an empty store that belongs to `scratch` (a fresh folder
// per test, which the adapter may use for its objects or to name its bucket prefix).
struct ArtifactBackend {
  const char* name;
  std::function<Result<std::unique_ptr<ArtifactStore>>(const std::filesystem::path& scratch)> open;
};

const ArtifactBackend kArtifactBackends[] = {
    {"local",
     [](const std::filesystem::path& scratch) -> Result<std::unique_ptr<ArtifactStore>> {
       ASSIGN_OR_RETURN(auto store, LocalArtifactStore::Open(scratch / "artifacts"));
       return std::unique_ptr<ArtifactStore>(std::move(store));
     }},
    {"s3", testing::OpenS3TestStore},
};

const char* const kBadKeys[] = {"", "/etc/passwd", "a/../b", "../x", "a//b", "./a", "a\\b", "a/."};

class ArtifactStoreContract : public ::testing::TestWithParam<ArtifactBackend> {
 protected:
  void SetUp() override {
    auto store = GetParam().open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  // The object's size; -1 when it is missing, -2 when Size failed.
  std::int64_t SizeOf(const std::string& key) {
    auto size = store_->Size(key);
    EXPECT_TRUE(size.ok()) << key << ": " << size.status().ToString();
    if (!size.ok()) return -2;
    return size->value_or(-1);
  }

  testing::TempDir dir_;
  std::unique_ptr<ArtifactStore> store_;
};

TEST_P(ArtifactStoreContract, PutThenSizeAndPutReplacesTheObject) {
  ASSERT_TRUE(store_->Put("submissions/700/input.zip", "hello").ok());
  EXPECT_EQ(SizeOf("submissions/700/input.zip"), 5);
  ASSERT_TRUE(store_->Put("submissions/700/input.zip", "hello, world").ok());
  EXPECT_EQ(SizeOf("submissions/700/input.zip"), 12);
  ASSERT_TRUE(store_->Put("submissions/700/empty.txt", "").ok());
  EXPECT_EQ(SizeOf("submissions/700/empty.txt"), 0);
}

TEST_P(ArtifactStoreContract, SizeOfAMissingKeyIsNullopt) {
  EXPECT_EQ(SizeOf("never/there.bin"), -1);
}

TEST_P(ArtifactStoreContract, DeletingAMissingKeyIsOk) {
  EXPECT_TRUE(store_->Delete("never/there.bin").ok());
  auto size = store_->Size("never/there.bin");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
}

TEST_P(ArtifactStoreContract, DeleteIsIdempotentAndRemovesOnlyItsKey) {
  ASSERT_TRUE(store_->Put("s/1/in", "x").ok());
  ASSERT_TRUE(store_->Put("s/1/out", "yy").ok());
  ASSERT_TRUE(store_->Delete("s/1/in").ok());
  EXPECT_EQ(SizeOf("s/1/in"), -1);
  EXPECT_TRUE(store_->Delete("s/1/in").ok()) << "a second delete of the same key is ok";
  EXPECT_EQ(SizeOf("s/1/out"), 2);
}

TEST_P(ArtifactStoreContract, RejectsUnsafeKeysInEveryOperationAndChangesNothing) {
  for (const char* key : kBadKeys) {
    EXPECT_EQ(ValidateArtifactKey(key).code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Delete(key).code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Size(key).status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Put(key, "planted").code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(ValidateArtifactKey(std::string("a\0b", 3)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateArtifactKey(std::string(1025, 'a')).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateArtifactKey(std::string(1024, 'a')).ok());
  EXPECT_TRUE(ValidateArtifactKey("submissions/700/input.zip").ok());
  EXPECT_EQ(SizeOf("b"), -1) << "a refused put of a/../b must not write b";
}

TEST_P(ArtifactStoreContract, DeleteManyAnswersPerKeyInOrder) {
  for (const char* key : {"s/1/in", "s/1/out", "s/2/in", "t/9/keep"}) {
    ASSERT_TRUE(store_->Put(key, "x").ok()) << key;
  }
  const std::vector<std::string> keys = {"s/1/in", "s/1/gone", "a/../b",
                                         "s/2/in", "s/1/out",  "s/1/in"};
  const std::vector<Status> got = store_->DeleteMany(keys);
  ASSERT_EQ(got.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const StatusCode want = keys[i] == "a/../b" ? StatusCode::kInvalidArgument : StatusCode::kOk;
    EXPECT_EQ(got[i].code(), want) << i << " " << keys[i] << ": " << got[i].message();
  }
  for (const char* key : {"s/1/in", "s/1/out", "s/2/in"}) EXPECT_EQ(SizeOf(key), -1) << key;
  EXPECT_EQ(SizeOf("t/9/keep"), 1) << "a key not named stays";
  EXPECT_TRUE(store_->DeleteMany({}).empty());
}

TEST_P(ArtifactStoreContract, SizeManyAnswersPerKeyInOrder) {
  ASSERT_TRUE(store_->Put("s/1/in", "abc").ok());
  ASSERT_TRUE(store_->Put("s/1/out", "").ok());
  ASSERT_TRUE(store_->Put("s/10/in", "abcdefgh").ok());
  const std::vector<std::string> keys = {"s/10/in", "s/1/gone", "a/../b", "s/1/in",
                                         "s/1/out", "s/10/in",  "zz/last"};
  const auto got = store_->SizeMany(keys);
  ASSERT_EQ(got.size(), keys.size());
  const std::int64_t want[] = {8, -1, -3, 3, 0, 8, -1};  // -1 missing, -3 InvalidArgument
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (want[i] == -3) {
      EXPECT_EQ(got[i].status().code(), StatusCode::kInvalidArgument) << keys[i];
      continue;
    }
    ASSERT_TRUE(got[i].ok()) << keys[i] << ": " << got[i].status().ToString();
    EXPECT_EQ(got[i]->value_or(-1), want[i]) << keys[i];
  }
  EXPECT_TRUE(store_->SizeMany({}).empty());
}

TEST_P(ArtifactStoreContract, PutNeverTouchesAnotherKeysObject) {
  ASSERT_TRUE(store_->Put("x/result.part", "another submission").ok());
  ASSERT_TRUE(store_->Put("x/result.tmp", "and another").ok());
  ASSERT_TRUE(store_->Put("x/result", "mine").ok());
  EXPECT_EQ(SizeOf("x/result.part"), 18);
  EXPECT_EQ(SizeOf("x/result.tmp"), 11);
  EXPECT_EQ(SizeOf("x/result"), 4);
}

TEST_P(ArtifactStoreContract, LocationNamesTheKey) {
  const std::string location = store_->Location("submissions/700/input.zip");
  EXPECT_NE(location.find("submissions/700/input.zip"), std::string::npos) << location;
  EXPECT_NE(location.find("://"), std::string::npos) << location;
}

INSTANTIATE_TEST_SUITE_P(Adapters, ArtifactStoreContract, ::testing::ValuesIn(kArtifactBackends),
                         testing::AdapterName());

}  // namespace
}  // namespace retention
