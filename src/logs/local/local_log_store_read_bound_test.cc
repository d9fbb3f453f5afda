// Issue 8 defect 13 (the log-read part): LocalLogStore::Read holds memory bounded by `limit`, not
// by the size of the group. This binary replaces the global operator new/delete to measure the
// peak of the bytes allocated during one Read and still live, so it is kept apart from the other
// tests of the store.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <vector>

#include "logs/local/local_log_store.h"

namespace {

// Every block carries a header: its size and whether it was allocated while measuring, so a
// block freed during the measurement but allocated before it does not count.
struct alignas(std::max_align_t) BlockHeader {
  std::size_t size;
  bool measured;
};

std::atomic<bool> g_measuring{false};
std::atomic<std::int64_t> g_live{0};
std::atomic<std::int64_t> g_peak{0};

}  // namespace

void* operator new(std::size_t size) {
  void* raw = std::malloc(sizeof(BlockHeader) + size);
  if (raw == nullptr) throw std::bad_alloc();
  auto* header = static_cast<BlockHeader*>(raw);
  header->size = size;
  header->measured = g_measuring.load(std::memory_order_relaxed);
  if (header->measured) {
    const std::int64_t live = g_live += static_cast<std::int64_t>(size);
    std::int64_t peak = g_peak.load();
    while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
    }
  }
  return header + 1;
}

void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  auto* header = static_cast<BlockHeader*>(p) - 1;
  if (header->measured) g_live -= static_cast<std::int64_t>(header->size);
  std::free(header);
}

void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace retention {
namespace {

namespace fs = std::filesystem;

TimePoint At(const char* rfc3339) { return *ParseTime(rfc3339); }

// Peak bytes allocated by `fn` and live at the same time.
template <typename Fn>
std::int64_t PeakBytesOf(Fn&& fn) {
  g_live = 0;
  g_peak = 0;
  g_measuring = true;
  fn();
  g_measuring = false;
  return g_peak.load();
}

TEST(LocalLogStoreReadBoundTest, Issue8Defect13ReadHoldsMemoryBoundedByTheLimit) {
  char tmpl[] = "/tmp/local_log_store_read_bound_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const fs::path dir = tmpl;
  auto store = LocalLogStore::Open("file://" + dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  // 4 day-segments of 5,000 lines of ~200 bytes: about 5 MB on disk, 1.3 MB a segment.
  const std::string padding(160, 'x');
  const TimePoint day0 = At("2026-03-01T00:00:00Z");
  for (int day = 0; day < 4; ++day) {
    std::vector<LogLine> lines;
    for (int i = 0; i < 5000; ++i) {
      lines.push_back({day0 + Days(day) + std::chrono::seconds(i),
                       "d" + std::to_string(day) + " " + std::to_string(i) + " " + padding});
    }
    ASSERT_TRUE((*store)->Ingest("g", lines, day0 + Days(day)).ok());
  }

  constexpr std::size_t kLimit = 50;
  Result<std::vector<LogLine>> read = std::vector<LogLine>();
  const std::int64_t peak =
      PeakBytesOf([&] { read = (*store)->Read("g", day0, day0 + Days(10), kLimit); });
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), kLimit);
  EXPECT_EQ(read->front().message.substr(0, 4), "d0 0");
  EXPECT_EQ(read->back().message.substr(0, 5), "d0 49");
  // The result alone is ~12 KB; a whole segment in memory would be well over 1 MB.
  EXPECT_LT(peak, 256 * 1024) << "Read held " << peak << " bytes at once for " << kLimit
                              << " lines of a 20,000-line group";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace retention
