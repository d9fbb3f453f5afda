#include "notify/smtp/smtp_mail_sender.h"

#include <curl/curl.h>

#include <cstring>
#include <mutex>
#include <ranges>
#include <string_view>
#include <vector>

#include "core/crypto.h"
#include "core/time.h"

namespace retention {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    InitCrypto();
  });
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One URL part, or "" when absent.
std::string UrlPart(CURLU* u, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, 0) != CURLUE_OK || value == nullptr) {
    return {};
  }
  std::string out(value);
  curl_free(value);
  return out;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// State shared with libcurl's callbacks during one Send.
struct Exchange {
  std::string_view payload;
  std::size_t sent = 0;
  bool upload_complete = false;      // the read callback has reported the end of the message
  std::vector<std::string> replies;  // server reply lines, in order
  std::string partial;               // an incomplete reply line
};

std::size_t ReadPayload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const std::size_t n = std::min(size * count, ex->payload.size() - ex->sent);
  if (n == 0) {
    ex->upload_complete = true;
    return 0;
  }
  std::memcpy(buffer, ex->payload.data() + ex->sent, n);
  ex->sent += n;
  return n;
}

int CaptureReplies(CURL* /*handle*/, curl_infotype type, char* data, std::size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) {
    return 0;
  }
  auto* ex = static_cast<Exchange*>(user);
  ex->partial.append(data, size);
  std::size_t eol = 0;
  while ((eol = ex->partial.find('\n')) != std::string::npos) {
    std::string line = ex->partial.substr(0, eol);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    ex->partial.erase(0, eol + 1);
    if (!line.empty()) {
      ex->replies.push_back(std::move(line));
    }
  }
  return 0;
}

// The last reply line carrying `code` ("550 5.1.1 no such user"), or the bare code.
std::string ReplyText(const Exchange& ex, long code) {  // NOLINT(google-runtime-int): curl's type
  std::string prefix = std::to_string(code);
  for (const auto& reply : std::ranges::reverse_view(ex.replies)) {
    if (reply.rfind(prefix, 0) == 0) {
      std::string line = reply;
      // A continuation line "250-text" reads better as "250 text".
      if (line.size() > prefix.size() && line[prefix.size()] == '-') {
        line[prefix.size()] = ' ';
      }
      return line;
    }
  }
  return prefix;
}

}  // namespace

SmtpMailSender::SmtpMailSender(std::string url, std::string redacted_url, mime::Mailbox from,
                               bool require_tls, SmtpOptions options)
    : url_(std::move(url)),
      redacted_url_(std::move(redacted_url)),
      from_(std::move(from)),
      require_tls_(require_tls),
      options_(options) {}

Result<std::unique_ptr<SmtpMailSender>> SmtpMailSender::Open(const std::string& url,
                                                             const std::string& from,
                                                             SmtpOptions options) {
  InitCurlOnce();
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) {
    return Internal("smtp: out of memory");
  }
  // Never echo a URL that failed to parse: it may hold a password.
  const auto invalid = [](const std::string& why) {
    return InvalidArgument("smtp url: " + why +
                           " (expected smtp://[user:password@]host[:port] or smtps://...)");
  };
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return invalid("not a valid URL");
  }
  const std::string scheme = UrlPart(u.get(), CURLUPART_SCHEME);
  const std::string host = UrlPart(u.get(), CURLUPART_HOST);
  if (scheme != "smtp" && scheme != "smtps") {
    return invalid("scheme '" + scheme + "' is not smtp");
  }
  if (host.empty()) {
    return invalid("no host");
  }
  if (!UrlPart(u.get(), CURLUPART_QUERY).empty() || !UrlPart(u.get(), CURLUPART_FRAGMENT).empty()) {
    return invalid("a query or fragment is not supported");
  }
  const bool has_credentials = !UrlPart(u.get(), CURLUPART_USER).empty();
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  std::string redacted = UrlPart(u.get(), CURLUPART_URL);
  if (UrlPart(u.get(), CURLUPART_PATH) == "/") {
    redacted.pop_back();  // "smtp://host:25/" reads better without the empty path
  }

  ASSIGN_OR_RETURN(mime::Mailbox sender, mime::ParseMailbox(from, "smtp from address"));
  if (options.connect_timeout.count() <= 0 || options.total_timeout.count() <= 0) {
    return InvalidArgument("smtp: timeouts must be positive");
  }
  // Credentials must not cross the network in clear text: require STARTTLS on smtp:// unless the
  // server is on this machine.
  const bool require_tls = scheme == "smtp" && has_credentials && !IsLoopback(host);
  return std::unique_ptr<SmtpMailSender>(
      new SmtpMailSender(url, redacted, std::move(sender), require_tls, options));
}

Status SmtpMailSender::Send(const MailMessage& m) {
  ASSIGN_OR_RETURN(mime::Mailbox to, mime::ParseMailbox(m.to, "mail recipient"));
  mime::Mailbox from = from_;
  if (!m.from.empty()) {
    ASSIGN_OR_RETURN(from, mime::ParseMailbox(m.from, "mail sender"));
  }
  const std::string context = redacted_url_ + ": mail to " + to.address;
  const TimePoint now = SystemClock().Now();
  const std::string domain = from.address.substr(from.address.find('@') + 1);
  const std::string message_id = std::to_string(ToUnix(now)) + "." + RandomToken() + "@" + domain;
  ASSIGN_OR_RETURN(const std::string payload,
                   mime::BuildMessage(m, from, to, now, message_id, "=_" + RandomToken()));

  std::unique_ptr<curl_slist, SlistDeleter> rcpt(
      curl_slist_append(nullptr, ("<" + to.address + ">").c_str()));
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl || !rcpt) {
    return Unavailable(context + ": cannot create a curl handle");
  }
  CURL* h = curl.get();

  Exchange ex;
  ex.payload = payload;
  char error[CURL_ERROR_SIZE] = {0};
  const std::string mail_from = "<" + from.address + ">";
  curl_easy_setopt(h, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadPayload);
  curl_easy_setopt(h, CURLOPT_READDATA, &ex);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(h, CURLOPT_USE_SSL, require_tls_ ? CURLUSESSL_ALL : CURLUSESSL_TRY);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  // The debug callback is how libcurl exposes the server's reply text; nothing is printed.
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &CaptureReplies);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &ex);

  const CURLcode rc = curl_easy_perform(h);
  long code = 0;  // NOLINT(google-runtime-int): CURLINFO_RESPONSE_CODE is a long
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (rc == CURLE_OK) {
    return Status::Ok();
  }

  // Classify by the server's reply code (NOTES.md: a refused recipient is CURLcode 55, a refused
  // DATA 8, so the CURLcode alone does not say whether to retry).
  const std::string detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
  if (rc == CURLE_LOGIN_DENIED || code == 535) {
    return Unavailable(context + ": login refused: " + ReplyText(ex, code) + " (" + detail + ")");
  }
  if (code >= 400 && code < 500) {
    return Unavailable(context + ": " + ReplyText(ex, code) + " (" + detail + ")");
  }
  if (code >= 500 && code < 600) {
    return FailedPrecondition(context + ": " + ReplyText(ex, code) + " (" + detail + ")");
  }
  if (ex.upload_complete) {
    return Internal(context +
                    ": outcome unknown: the connection failed after the message was sent (" +
                    detail + ")");
  }
  return Unavailable(context + ": " + detail);
}

}  // namespace retention
