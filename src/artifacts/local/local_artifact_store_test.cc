// What only the local folder shows: pruned folders, symbolic links below the root, permissions
// and temporary files. The port's promises are in artifacts/artifact_store_contract_test.cc.
#include "artifacts/local/local_artifact_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

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
    fs::remove_all(Outside(), ec);
  }
  // A folder beside the root (not under it) that symlinks inside the root point to.
  fs::path Outside() const { return root_.string() + "-outside"; }
  fs::path MakeOutsideFile(const std::string& name, const std::string& bytes) const {
    fs::create_directories(Outside());
    std::ofstream(Outside() / name) << bytes;
    return Outside() / name;
  }
  static std::string Read(const fs::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static std::set<std::string> Names(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }
  fs::path root_;
  std::unique_ptr<LocalArtifactStore> store_;
};

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

// Issue 8 defect 4: the upload wrote a fixed temp name KEY.part and renamed it over the key, so
// putting "x/result" truncated and then removed another artifact stored as "x/result.part".
TEST_F(LocalArtifactStoreTest, Issue8Defect4PutNeverTouchesAnotherKeysFile) {
  ASSERT_TRUE(store_->Put("x/result.part", "another submission").ok());
  ASSERT_TRUE(store_->Put("x/result", "mine").ok());
  auto other = store_->Size("x/result.part");
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_EQ(other->value_or(-1), 18) << "x/result.part must survive the upload of x/result";
  EXPECT_EQ(Read(root_ / "x/result.part"), "another submission");
  EXPECT_EQ(Read(root_ / "x/result"), "mine");
  EXPECT_EQ(Names(root_ / "x"), (std::set<std::string>{"result", "result.part"}))
      << "no temporary file is left behind";
}

TEST_F(LocalArtifactStoreTest, Issue8Defect4PutReplacesItsOwnKeyAndCleansUpOnFailure) {
  ASSERT_TRUE(store_->Put("x/result", "first").ok());
  ASSERT_TRUE(store_->Put("x/result", "second").ok());
  EXPECT_EQ(Read(root_ / "x/result"), "second");
  // A folder in place of the key cannot be replaced: the error names the key, and the temporary
  // file is gone.
  fs::create_directories(root_ / "x/folder/inner");
  const Status st = store_->Put("x/folder", "bytes");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("x/folder"), std::string::npos) << st.message();
  EXPECT_EQ(Names(root_ / "x"), (std::set<std::string>{"folder", "result"}));
}

// Issue 8 defect 5: a symlinked folder inside the root led every operation outside the root.
TEST_F(LocalArtifactStoreTest, Issue8Defect5DeleteThroughSymlinkedFolderLeavesOutsideFile) {
  const fs::path victim = MakeOutsideFile("victim.bin", "precious");
  fs::create_directories(root_ / "submissions");
  fs::create_directory_symlink(Outside(), root_ / "submissions/700");
  const Status st = store_->Delete("submissions/700/victim.bin");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.message();
  EXPECT_NE(st.message().find("symbolic link"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("submissions/700"), std::string::npos) << st.message();
  EXPECT_EQ(Read(victim), "precious") << "the file outside the root must stay";
  EXPECT_TRUE(fs::is_symlink(root_ / "submissions/700"));
}

TEST_F(LocalArtifactStoreTest, Issue8Defect5SizeAndPutThroughSymlinkedFolderAreRefused) {
  MakeOutsideFile("victim.bin", "precious");
  fs::create_directories(root_ / "a/b");
  fs::create_directory_symlink(Outside(), root_ / "a/b/link");
  auto size = store_->Size("a/b/link/victim.bin");
  EXPECT_EQ(size.status().code(), StatusCode::kFailedPrecondition);
  const Status put = store_->Put("a/b/link/new.bin", "planted");
  EXPECT_EQ(put.code(), StatusCode::kFailedPrecondition) << put.message();
  const Status nested = store_->Put("a/b/link/deeper/new.bin", "planted");
  EXPECT_EQ(nested.code(), StatusCode::kFailedPrecondition) << nested.message();
  EXPECT_EQ(Names(Outside()), (std::set<std::string>{"victim.bin"})) << "nothing written outside";
  EXPECT_EQ(Read(Outside() / "victim.bin"), "precious");
}

TEST_F(LocalArtifactStoreTest, Issue8Defect5KeyWhoseLastSegmentIsASymlinkIsRefused) {
  const fs::path victim = MakeOutsideFile("victim.bin", "precious");
  fs::create_directories(root_ / "a");
  fs::create_symlink(victim, root_ / "a/leaf.bin");
  EXPECT_EQ(store_->Size("a/leaf.bin").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Put("a/leaf.bin", "overwritten").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Delete("a/leaf.bin").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(Read(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(root_ / "a/leaf.bin")) << "a refused key changes nothing";
}

// DeleteMany answers for each key as Delete would, in order, and leaves the same tree: files gone,
// folders that it emptied removed, others kept; a bad key or a link fails alone.
TEST_F(LocalArtifactStoreTest, DeleteManyAnswersPerKeyAndPrunesWhatItEmptied) {
  const fs::path victim = MakeOutsideFile("victim.bin", "precious");
  for (const char* key :
       {"s/1/in", "s/1/out", "s/2/in", "s/2/deep/x", "s/3/in", "t/9/keep", "u/only"}) {
    ASSERT_TRUE(store_->Put(key, "x").ok()) << key;
  }
  fs::create_directories(root_ / "v");
  fs::create_directory_symlink(Outside(), root_ / "v/link");
  fs::create_directories(root_ / "e/empty");  // emptied by nobody: not this pass's to prune
  const std::vector<std::string> keys = {"s/1/in",   "s/1/out", "s/2/deep/x",        "s/2/in",
                                         "s/1/gone", "a/../b",  "v/link/victim.bin", "t/9/nothing",
                                         "s/3/in",   "u/only"};
  const std::vector<Status> got = store_->DeleteMany(keys);
  ASSERT_EQ(got.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const StatusCode want = keys[i] == "a/../b"              ? StatusCode::kInvalidArgument
                            : keys[i] == "v/link/victim.bin" ? StatusCode::kFailedPrecondition
                                                             : StatusCode::kOk;
    EXPECT_EQ(got[i].code(), want) << keys[i] << ": " << got[i].message();
  }
  EXPECT_EQ(Read(victim), "precious");
  EXPECT_EQ(Names(root_), (std::set<std::string>{"e", "t", "v"})) << "s/ and u/ were emptied";
  EXPECT_EQ(Names(root_ / "t/9"), (std::set<std::string>{"keep"}));
  EXPECT_TRUE(fs::is_directory(root_ / "e/empty"));
  EXPECT_TRUE(fs::is_symlink(root_ / "v/link"));
  EXPECT_TRUE(store_->DeleteMany({}).empty());
}

}  // namespace
}  // namespace retention
