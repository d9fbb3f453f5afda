#include "artifacts/local/local_artifact_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace retention {
namespace {

namespace fs = std::filesystem;

class LocalArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("artifacts-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    auto store = LocalArtifactStore::Open(root_);
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_ / "a", fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }
  fs::path root_;
  std::unique_ptr<LocalArtifactStore> store_;
};

TEST_F(LocalArtifactStoreTest, RejectsUnsafeKeys) {
  for (const char* key : {"", "/etc/passwd", "a/../b", "../x", "a//b", "./a", "a\\b", "a/."}) {
    EXPECT_EQ(ValidateArtifactKey(key).code(), StatusCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Delete(key).code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(ValidateArtifactKey(std::string("a\0b", 3)).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateArtifactKey("submissions/700/input.zip").ok());
}

TEST_F(LocalArtifactStoreTest, PutSizeDeleteAndPruneEmptyFolders) {
  ASSERT_TRUE(store_->Put("a/b/c.bin", "hello").ok());
  ASSERT_TRUE(store_->Put("a/keep.bin", "x").ok());
  auto size = store_->Size("a/b/c.bin");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->value_or(-1), 5);
  ASSERT_TRUE(store_->Delete("a/b/c.bin").ok());
  EXPECT_FALSE(fs::exists(root_ / "a/b/c.bin"));
  EXPECT_FALSE(fs::exists(root_ / "a/b")) << "empty folder should be pruned";
  EXPECT_TRUE(fs::exists(root_ / "a/keep.bin")) << "non-empty folder must stay";
  EXPECT_TRUE(fs::exists(root_));
}

TEST_F(LocalArtifactStoreTest, DeletingAMissingKeyIsOk) {
  EXPECT_TRUE(store_->Delete("never/there.bin").ok());
  auto size = store_->Size("never/there.bin");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
}

TEST_F(LocalArtifactStoreTest, UndeletableFileIsUnavailable) {
  if (::geteuid() == 0) {
    // Root ignores directory permissions; use an immutable-free trick instead: a directory in
    // place of the file cannot be unlinked.
    fs::create_directories(root_ / "a/dir.bin/inner");
    auto st = store_->Delete("a/dir.bin");
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    EXPECT_NE(st.message().find("a/dir.bin"), std::string::npos);
    return;
  }
  ASSERT_TRUE(store_->Put("a/x.bin", "x").ok());
  fs::permissions(root_ / "a", fs::perms::owner_read | fs::perms::owner_exec);
  auto st = store_->Delete("a/x.bin");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace retention
