// The cross-process half of "writers go first" (R5, ADR 0005): a sweep batch never starts while a
// writer of any process waits, and no writer writes while a batch of another process runs.
//
// Database calls a WriteGate only while it holds its own mutex, so one gate object is never used
// by two threads at once. Within one process Database's mutex orders writers and batches; the
// gate adds the same order between processes that share one database file.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace retention {

class WriteGate {
 public:
  virtual ~WriteGate() = default;

  // Announces a writer, then waits until no batch of another process runs. Until EndWrite no
  // batch starts anywhere. Never fails: an interrupted wait is resumed.
  virtual void BeginWrite() = 0;
  virtual void EndWrite() = 0;

  // Starts a batch unless a writer of any process is announced: returns false at once then (the
  // caller lets the writers go and retries). Otherwise waits for writers that were already past
  // their announcement, and keeps every writer out until EndBatch.
  virtual bool TryBeginBatch() = 0;
  virtual void EndBatch() = 0;
};

// A gate made of two open-file-description locks on one file (Linux F_OFD_SETLK): byte 0 is the
// writers' announcement (shared by writers, probed exclusively by a batch), byte 1 the batch
// (exclusive for a batch, shared by writers). The kernel drops both when a process dies, so a
// killed sweep never leaves writers locked out. Unavailable when the file cannot be opened.
Result<std::unique_ptr<WriteGate>> OpenFileWriteGate(const std::string& path);

}  // namespace retention
