// The HTTP server on Boost.Beast: the only translation unit that includes Beast or Asio.
//
// One io_context is run by `threads` threads. Each connection lives on its own strand and goes
// through: wait for the first byte (idle or header deadline), read the head (header deadline),
// optionally answer "100 Continue", read the body, call the handler inline (it may block its
// thread), write the answer, then either wait for the next request or close gracefully
// (shut down sending, drain what the client still sends, so it can read our last answer).
#include "api/http_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>  // Must precede Asio with g++ 12 and C++20.
#include <vector>

// Beast and Asio after <utility>: keep these in a block of their own.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace retention {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string HttpRequest::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse JsonError(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = nlohmann::json{{"error", std::string(message)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

namespace {

// How long a closing connection keeps draining what the client still sends.
constexpr std::chrono::seconds kLingerTimeout{2};
// How much the first read of a request asks for.
constexpr std::size_t kReadChunk = 8192;

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the percent-decoding of `in` to `out` ('+' becomes a space when `plus_is_space`).
// Returns false on a malformed escape.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string& out) {
  out.reserve(out.size() + in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

// Splits a request target into its decoded path and query. Returns false when it is malformed.
bool ParseTarget(std::string_view target, std::string& path,
                 std::map<std::string, std::string>& query) {
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  std::string_view raw_path = target;
  std::string_view raw_query;
  if (auto q = target.find('?'); q != std::string_view::npos) {
    raw_path = target.substr(0, q);
    raw_query = target.substr(q + 1);
  }
  if (!PercentDecode(raw_path, false, path)) return false;
  while (!raw_query.empty()) {
    auto amp = raw_query.find('&');
    std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key;
    std::string value;
    if (!PercentDecode(pair.substr(0, eq), true, key)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, value)) {
      return false;
    }
    query[std::move(key)] = std::move(value);
  }
  return true;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

// "2026-03-01T00:00:00.123Z" for now.
std::string NowWithMillis() {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 96> text{};  // room for any int the compiler assumes
  std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return text.data();
}

// Writes `line` and a newline to stderr with one write(2), so concurrent lines do not mix.
void WriteStderrLine(std::string line) {
  line.push_back('\n');
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void LogError(std::string_view message) {
  WriteStderrLine(
      DumpJson({{"ts", NowWithMillis()}, {"level", "error"}, {"msg", std::string(message)}}));
}

// Headers a handler may not set: the server owns the framing.
bool IsReservedHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection");
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

class Connection;

// State shared by the listener and every connection; it outlives the io_context.
struct Shared {
  Shared(HttpServerOptions o, HttpHandler h) : options(std::move(o)), handler(std::move(h)) {}

  const HttpServerOptions options;
  const HttpHandler handler;
  std::mutex mu;
  std::atomic<bool> stopping_flag{false};  // Set under mu, read without it.
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;  // Guarded by mu.
};

// One client connection. All its methods run on its strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Shared& shared, std::string remote)
      : stream_(std::move(socket)), shared_(shared), remote_(std::move(remote)) {}

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ~Connection() {
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.connections.erase(this);
  }

  // Registers the connection and starts reading. Called once, right after construction.
  void Start() {
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.connections.emplace(this, weak_from_this());
    }
    // The header deadline of the first request runs from the accept.
    stream_.expires_after(shared_.options.header_timeout);
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadRequest(); });
  }

  // Closes the connection if it is waiting for a request; a request being handled finishes.
  void OnServerStop() {
    if (state_ == State::kIdle || state_ == State::kReadingHeader) stream_.cancel();
  }

  net::any_io_executor GetExecutor() { return stream_.get_executor(); }

 private:
  enum class State { kIdle, kReadingHeader, kReadingBody, kHandling, kWriting, kClosing };

  void ReadRequest() {
    state_ = State::kIdle;
    parser_.emplace();
    parser_->body_limit(shared_.options.body_limit);
    if (buffer_.size() > 0) {  // A pipelined request is already here.
      OnFirstBytes({}, 0);
      return;
    }
    if (shared_.stopping_flag.load(std::memory_order_relaxed)) {
      CloseNow();
      return;
    }
    if (!first_request_) stream_.expires_after(shared_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->OnFirstBytes(ec, n);
                            });
  }

  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (ec) {
      CloseNow();
      return;
    }
    buffer_.commit(n);
    if (!first_request_) stream_.expires_after(shared_.options.header_timeout);
    started_ = std::chrono::steady_clock::now();
    state_ = State::kReadingHeader;
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code e, std::size_t) { self->OnHeader(e); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    state_ = State::kReadingBody;
    stream_.expires_after(shared_.options.idle_timeout);
    if (parser_->is_done()) {
      Handle();
      return;
    }
    const auto& message = parser_->get();
    if (message.version() >= 11 && IEquals(View(message[http::field::expect]), "100-continue")) {
      continue_.emplace(http::status::continue_, message.version());
      http::async_write(stream_, *continue_,
                        [self = shared_from_this()](beast::error_code e, std::size_t) {
                          self->continue_.reset();
                          if (e) {
                            self->CloseNow();
                          } else {
                            self->ReadBody();
                          }
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) {
                         self->OnReadError(ec);
                       } else {
                         self->Handle();
                       }
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      SendError(413,
                "request body exceeds " + std::to_string(shared_.options.body_limit) + " bytes");
    } else if (ec == http::error::header_limit) {
      SendError(431, "request header fields too large");
    } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
               ec != http::error::partial_message) {
      SendError(400, "malformed request");
    } else {
      CloseNow();  // Timeout, reset, end of stream, or cancelled by Stop().
    }
  }

  void Handle() {
    state_ = State::kHandling;
    auto& message = parser_->get();
    HttpRequest request;
    request.method = std::string(View(message.method_string()));
    request.target = std::string(View(message.target()));
    if (!ParseTarget(request.target, request.path, request.query)) {
      SendError(400, "malformed request target");
      return;
    }
    for (const auto& field : message) {
      auto [it, inserted] =
          request.headers.try_emplace(ToLower(View(field.name_string())), field.value());
      if (!inserted) {
        it->second += ", ";
        it->second.append(field.value().data(), field.value().size());
      }
    }
    request.body = std::move(message.body());
    request.remote = remote_;

    HttpResponse response;
    try {
      response = shared_.handler(request);
    } catch (const std::exception& e) {
      LogError("http handler threw on " + request.method + " " + request.path + ": " + e.what());
      response = JsonError(500, "internal error");
    } catch (...) {
      LogError("http handler threw a non-exception on " + request.method + " " + request.path);
      response = JsonError(500, "internal error");
    }
    const bool keep_alive =
        message.keep_alive() && !shared_.stopping_flag.load(std::memory_order_relaxed);
    Write(std::move(response), keep_alive, message.method() == http::verb::head,
          std::move(request.method), std::move(request.path));
  }

  // Answers a request that could not be read, then closes the connection.
  void SendError(int status, std::string_view message) {
    const auto& head = parser_->get();
    std::string_view target = View(head.target());
    Write(JsonError(status, message), false, false, std::string(View(head.method_string())),
          std::string(target.substr(0, target.find('?'))));
  }

  void Write(HttpResponse response, bool keep_alive, bool head, std::string method,
             std::string path) {
    state_ = State::kWriting;
    const unsigned version = parser_->get().version() == 10 ? 10 : 11;
    response_.emplace();
    auto& out = *response_;
    out.version(version);
    const bool valid_status = response.status >= 100 && response.status <= 999;
    out.result(static_cast<unsigned>(valid_status ? response.status : 500));
    out.set(http::field::server, "retention");
    if (!response.content_type.empty() && !HasLineBreak(response.content_type)) {
      out.set(http::field::content_type, response.content_type);
    }
    log_user_.reset();
    for (auto& [name, value] : response.headers) {
      if (IEquals(name, kAccessLogUserHeader)) {
        log_user_ = std::move(value);
      } else if (!name.empty() && !IsReservedHeader(name) && !HasLineBreak(name) &&
                 !HasLineBreak(value)) {
        out.insert(name, value);
      }
    }
    log_bytes_ = response.body.size();
    if (head) {
      out.content_length(response.body.size());
    } else {
      out.body() = std::move(response.body);
      out.prepare_payload();
    }
    out.keep_alive(keep_alive);
    log_status_ = out.result_int();
    log_method_ = std::move(method);
    log_path_ = std::move(path);
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_write(stream_, out,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        self->OnWrite(ec, keep_alive);
                      });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    if (shared_.options.access_log) LogAccess();
    response_.reset();
    if (ec) {
      CloseNow();
    } else if (!keep_alive) {
      CloseGracefully();
    } else {
      first_request_ = false;
      ReadRequest();
    }
  }

  void LogAccess() {
    const auto ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
            .count();
    nlohmann::json line = {
        {"ts", NowWithMillis()},
        {"remote", remote_},
        {"method", log_method_},
        {"path", log_path_},
        {"status", log_status_},
        {"bytes", log_bytes_},
        {"ms", std::round(ms * 1000.0) / 1000.0},
        {"user", log_user_ ? nlohmann::json(*log_user_) : nlohmann::json(nullptr)},
    };
    WriteStderrLine(DumpJson(line));
  }

  // Stops sending, then reads and discards until the client closes (or kLingerTimeout), so a
  // client still sending a body receives our answer instead of a reset.
  void CloseGracefully() {
    state_ = State::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      CloseNow();
      return;
    }
    stream_.expires_after(kLingerTimeout);
    buffer_.clear();
    Drain();
  }

  void Drain() {
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                self->CloseNow();
                              } else {
                                self->Drain();
                              }
                            });
  }

  void CloseNow() {
    state_ = State::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> response_;
  State state_ = State::kIdle;
  bool first_request_ = true;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::string log_method_;
  std::string log_path_;
  unsigned log_status_ = 0;
  std::size_t log_bytes_ = 0;
  std::optional<std::string> log_user_;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, HttpHandler handler)
      : shared_(options, std::move(handler)),
        ioc_(options.threads),
        acceptor_(net::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { Stop(); }

  Status Bind() {
    const auto& o = shared_.options;
    const std::string where = o.host + ":" + std::to_string(o.port);
    beast::error_code ec;
    tcp::endpoint endpoint;
    const auto address = net::ip::make_address(o.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, static_cast<std::uint16_t>(o.port));
    } else {
      tcp::resolver resolver(ioc_);
      auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
      if (ec || results.empty()) {
        return Unavailable("http server: resolve " + where + ": " +
                           (ec ? ec.message() : std::string("no address")));
      }
      endpoint = results.begin()->endpoint();
    }
    auto fail = [&](const char* step) {
      beast::error_code ignored;
      acceptor_.close(ignored);
      return Unavailable("http server: " + std::string(step) + " " + where + ": " + ec.message());
    };
    if (acceptor_.open(endpoint.protocol(), ec)) return fail("open");
    if (acceptor_.set_option(net::socket_base::reuse_address(true), ec)) return fail("configure");
    if (acceptor_.bind(endpoint, ec)) return fail("bind");
    if (acceptor_.listen(net::socket_base::max_listen_connections, ec)) return fail("listen on");
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return fail("read the port of");
    return Status::Ok();
  }

  void Run() {
    Accept();
    running_ = shared_.options.threads;
    threads_.reserve(static_cast<std::size_t>(shared_.options.threads));
    for (int i = 0; i < shared_.options.threads; ++i) {
      threads_.emplace_back([this] {
        for (;;) {
          try {
            ioc_.run();
            break;
          } catch (const std::exception& e) {
            LogError(std::string("http server: worker: ") + e.what());
          }
        }
        std::lock_guard<std::mutex> lock(run_mu_);
        --running_;
        run_cv_.notify_all();
      });
    }
  }

  int port() const { return port_; }

  void Stop() {
    std::lock_guard<std::mutex> stop_lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    std::vector<std::weak_ptr<Connection>> connections;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.stopping_flag = true;
      connections.reserve(shared_.connections.size());
      for (const auto& [_, weak] : shared_.connections) connections.push_back(weak);
    }
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      accept_retry_.cancel();
    });
    for (const auto& weak : connections) {
      if (auto connection = weak.lock()) {
        net::post(connection->GetExecutor(), [connection] { connection->OnServerStop(); });
      }
    }
    {
      std::unique_lock<std::mutex> lock(run_mu_);
      if (!run_cv_.wait_for(lock, shared_.options.stop_timeout, [this] { return running_ == 0; })) {
        lock.unlock();
        ioc_.stop();
      }
    }
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  void Accept() {
    acceptor_.async_accept(
        net::make_strand(ioc_),
        [this](beast::error_code ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open() || ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of file descriptors, for example: back off instead of spinning.
      LogError("http server: accept: " + ec.message());
      accept_retry_.expires_after(std::chrono::milliseconds(100));
      accept_retry_.async_wait([this](beast::error_code e) {
        if (!e && acceptor_.is_open()) Accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const auto remote = socket.remote_endpoint(ignored);
    std::make_shared<Connection>(std::move(socket), shared_, FormatEndpoint(remote))->Start();
    Accept();
  }

  Shared shared_;  // Declared first: connections destroyed with ioc_ still refer to it.
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  int port_ = 0;
  std::vector<std::thread> threads_;
  std::mutex stop_mu_;
  bool stopped_ = false;  // Guarded by stop_mu_.
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  int running_ = 0;  // Worker threads still running; guarded by run_mu_.
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  if (options.threads < 1) {
    return InvalidArgument("http server: threads must be at least 1, got " +
                           std::to_string(options.threads));
  }
  if (options.port < 0 || options.port > 65535) {
    return InvalidArgument("http server: port must be in 0..65535, got " +
                           std::to_string(options.port));
  }
  if (!handler) return InvalidArgument("http server: no handler");
  auto impl = std::make_unique<Impl>(options, std::move(handler));
  RETURN_IF_ERROR(impl->Bind());
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

int HttpServer::port() const { return impl_->port(); }

void HttpServer::Stop() { impl_->Stop(); }

namespace {

// A self-pipe: the signal handler and RequestShutdown() write a byte, the waiter reads one.
struct ShutdownPipe {
  ShutdownPipe() {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      LogError("shutdown pipe: " + std::string(std::strerror(errno)));
      return;
    }
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    write_fd.store(fds[1]);
  }
  int fds[2] = {-1, -1};
  static inline std::atomic<int> write_fd{-1};
};

ShutdownPipe& GetShutdownPipe() {
  static ShutdownPipe pipe;
  return pipe;
}

void NotifyShutdown() {
  const int fd = ShutdownPipe::write_fd.load();
  if (fd < 0) return;
  const char byte = 's';
  while (::write(fd, &byte, 1) < 0 && errno == EINTR) {
  }
}

extern "C" void OnShutdownSignal(int /*signal*/) {
  const int saved_errno = errno;
  NotifyShutdown();
  errno = saved_errno;
}

}  // namespace

void WaitForShutdownSignal() {
  ShutdownPipe& pipe = GetShutdownPipe();
  struct sigaction action {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  struct sigaction old_int {};
  struct sigaction old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  char byte = 0;
  for (;;) {
    const ssize_t n = ::read(pipe.fds[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    break;  // A byte, or a broken pipe: either way, shut down.
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
}

void RequestShutdown() {
  GetShutdownPipe();
  NotifyShutdown();
}

}  // namespace retention
