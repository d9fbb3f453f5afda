#include "testing/fake_mail_sender.h"

#include <utility>

namespace retention::testing {

Status FakeMailSender::Send(const MailMessage& m) {
  if (on_first_send_) std::exchange(on_first_send_, nullptr)();
  std::lock_guard<std::mutex> lock(mu_);
  ++attempts_[m.to];
  if (auto it = failures_.find(m.to); it != failures_.end()) return it->second;
  if (!fail_all_.ok()) return fail_all_;
  delivered_.push_back(m);
  ++delivered_count_[m.to];
  return Status::Ok();
}

void FakeMailSender::Fail(const std::string& to, Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_[to] = std::move(s);
}

void FakeMailSender::FailTemporarily(const std::string& to) {
  Fail(to, Unavailable("smtp://mx: mail to " + to + ": 451 4.3.0 try again"));
}

void FakeMailSender::FailPermanently(const std::string& to) {
  Fail(to, FailedPrecondition("smtp://mx: mail to " + to + ": 550 5.1.1 no such user"));
}

void FakeMailSender::Heal(const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.erase(to);
}

void FakeMailSender::FailAll(Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_all_ = std::move(s);
}

int FakeMailSender::Attempts(const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  return attempts_[to];
}

int FakeMailSender::Delivered(const std::string& to) {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_count_[to];
}

std::vector<MailMessage> FakeMailSender::delivered() {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}

}  // namespace retention::testing
