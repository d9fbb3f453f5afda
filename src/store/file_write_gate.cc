#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/write_gate.h"

namespace retention {
namespace {

constexpr off_t kAnnounceByte = 0;
constexpr off_t kBatchByte = 1;

class FileWriteGate final : public WriteGate {
 public:
  explicit FileWriteGate(int fd) : fd_(fd) {}
  FileWriteGate(const FileWriteGate&) = delete;
  FileWriteGate& operator=(const FileWriteGate&) = delete;
  ~FileWriteGate() override { ::close(fd_); }

  void BeginWrite() override {
    Wait(kAnnounceByte, F_RDLCK);
    Wait(kBatchByte, F_RDLCK);
  }
  void EndWrite() override {
    Set(kBatchByte, F_UNLCK);
    Set(kAnnounceByte, F_UNLCK);
  }
  bool TryBeginBatch() override {
    if (!Set(kAnnounceByte, F_WRLCK)) return false;  // a writer is announced
    Set(kAnnounceByte, F_UNLCK);
    Wait(kBatchByte, F_WRLCK);
    return true;
  }
  void EndBatch() override { Set(kBatchByte, F_UNLCK); }

 private:
  static struct flock Range(off_t byte, short type) {
    struct flock fl;
    std::memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    return fl;
  }
  // Non-blocking; false when another open file description holds a conflicting lock.
  bool Set(off_t byte, short type) {
    struct flock fl = Range(byte, type);
    for (;;) {
      if (::fcntl(fd_, F_OFD_SETLK, &fl) == 0) return true;
      if (errno != EINTR) return false;
    }
  }
  // Blocking. Errors other than an interrupt (ENOLCK: the kernel's lock table is full) are
  // retried after a pause, so that a writer is never let through without the gate.
  void Wait(off_t byte, short type) {
    struct flock fl = Range(byte, type);
    while (::fcntl(fd_, F_OFD_SETLKW, &fl) != 0) {
      if (errno != EINTR) ::usleep(1000);
    }
  }

  int fd_;
};

}  // namespace

Result<std::unique_ptr<WriteGate>> OpenFileWriteGate(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable("open write gate " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<WriteGate>(new FileWriteGate(fd));
}

}  // namespace retention
