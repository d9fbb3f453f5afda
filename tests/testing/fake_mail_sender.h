// The one fake of the mail port for unit tests: it records every message it accepts and answers
// each recipient as told (accept, or fail with a given status). Thread-safe, except OnFirstSend,
// which is set before delivering.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "notify/mail.h"

namespace retention::testing {

class FakeMailSender final : public MailSender {
 public:
  // Runs the OnFirstSend hook (once, outside the lock), then answers the recipient's failure if
  // one is set, else the FailAll status if it is not ok, else accepts and records the message.
  // Every call counts as an attempt for its recipient.
  Status Send(const MailMessage& m) override;

  // Mail to `to` answers `s` until Heal(to).
  void Fail(const std::string& to, Status s);
  // A 451 reply (kUnavailable), as SMTP's temporary refusal.
  void FailTemporarily(const std::string& to);
  // A 550 reply (kFailedPrecondition), as SMTP's permanent refusal.
  void FailPermanently(const std::string& to);
  // Mail to `to` is accepted again.
  void Heal(const std::string& to);
  // Every recipient without its own failure answers `s`; Status::Ok() accepts again.
  void FailAll(Status s);
  // Runs `f` once, at the start of the next Send, before it answers (a change made while the
  // mail is on the wire; `f` may send through this fake again).
  void OnFirstSend(std::function<void()> f) { on_first_send_ = std::move(f); }

  // Send calls for `to`, whatever they answered.
  int Attempts(const std::string& to);
  // Messages to `to` that were accepted.
  int Delivered(const std::string& to);
  // Every accepted message, in order.
  std::vector<MailMessage> delivered();

 private:
  std::mutex mu_;
  std::function<void()> on_first_send_;
  Status fail_all_;
  std::map<std::string, Status> failures_;
  std::map<std::string, int> attempts_;
  std::map<std::string, int> delivered_count_;
  std::vector<MailMessage> delivered_;
};

}  // namespace retention::testing
