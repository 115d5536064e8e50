#include "controller/http_server.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <thread>

#include "controller/queries.h"
#include "dashboards/assets.h"

namespace qfarm::controller {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Reply {
  http::status status = http::status::ok;
  std::string type = "application/json";
  std::string body;
};

Reply JsonError(http::status status, const std::string& message) {
  return {status, "application/json", nlohmann::json{{"error", message}}.dump()};
}

Reply Api(Store& store, const std::string& kind, const std::string& query) {
  auto answer = RunQuery(store, kind, ArgsFromQueryString(query));
  if (answer.ok()) return {http::status::ok, "application/json", answer->dump()};
  const auto code = answer.status().code();
  return JsonError(code == StatusCode::kNotFound ? http::status::not_found
                   : code == StatusCode::kInvalidArgument ? http::status::bad_request
                                                          : http::status::internal_server_error,
                   answer.status().message());
}

Reply Route(Store& store, const std::string& target) {
  const size_t q = target.find('?');
  const std::string path = target.substr(0, q), query = q == std::string::npos ? "" : target.substr(q + 1);
  if (path == "/" || path == "/index.html") return {http::status::ok, "text/html; charset=utf-8", dashboards::ServedPage()};
  if (path.rfind("/static/", 0) == 0) {
    const std::string_view asset = dashboards::Asset(path.substr(8));
    if (!asset.empty()) return {http::status::ok, dashboards::ContentType(path), std::string(asset)};
  }
  if (path.rfind("/api/", 0) == 0) return Api(store, path.substr(5), query);
  return JsonError(http::status::not_found, "no such page: " + path.substr(0, 200));
}

void Close(std::shared_ptr<tcp::socket> s) {
  beast::error_code ignored;
  s->shutdown(tcp::socket::shutdown_send, ignored);
}
// The TLS close_notify is asynchronous: the handler keeps the stream alive until it is done.
void Close(std::shared_ptr<beast::ssl_stream<tcp::socket>> s) {
  s->async_shutdown([s](beast::error_code) {});
}

// One connection (plain or TLS): read a request, answer it, close.
template <typename Stream>
void Serve(Store& store, std::shared_ptr<Stream> socket) {
  auto buffer = std::make_shared<beast::flat_buffer>();
  auto parser = std::make_shared<http::request_parser<http::string_body>>();
  parser->body_limit(64 * 1024);
  http::async_read(*socket, *buffer, *parser, [&store, socket, buffer, parser](beast::error_code ec, size_t) {
    if (ec) return;
    const auto& req = parser->get();
    Reply reply = req.method() == http::verb::get || req.method() == http::verb::head
                      ? Route(store, std::string(req.target()))
                      : JsonError(http::status::method_not_allowed, "the dashboard is read-only");
    auto res = std::make_shared<http::response<http::string_body>>(reply.status, req.version());
    res->set(http::field::content_type, reply.type);
    res->set(http::field::cache_control, "no-store");
    res->keep_alive(false);
    res->body() = std::move(reply.body);
    res->prepare_payload();
    http::async_write(*socket, *res, [socket, res](beast::error_code, size_t) { Close(socket); });
  });
}

}  // namespace

nlohmann::json ArgsFromQueryString(const std::string& query) {
  nlohmann::json args = nlohmann::json::object();
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    const std::string key = UrlDecode(pair.substr(0, eq)), value = eq == std::string::npos ? "" : UrlDecode(pair.substr(eq + 1));
    const bool integer = !value.empty() && value.size() < 19 &&
                         value.find_first_not_of("0123456789") == std::string::npos;
    if (!key.empty()) args[key] = integer ? nlohmann::json(std::stoll(value)) : nlohmann::json(value);
    start = end + 1;
  }
  return args;
}

struct HttpServer::Impl {
  Impl(Store& store) : store(store), acceptor(io) {}
  void Accept() {
    auto socket = std::make_shared<tcp::socket>(io);
    acceptor.async_accept(*socket, [this, socket](beast::error_code ec) {
      if (ec) return;  // closed at shutdown
      if (!tls) {
        Serve(store, socket);
      } else {
        auto stream = std::make_shared<beast::ssl_stream<tcp::socket>>(std::move(*socket), *tls);
        stream->async_handshake(asio::ssl::stream_base::server, [this, stream](beast::error_code hec) {
          if (!hec) Serve(store, stream);
        });
      }
      Accept();
    });
  }
  Store& store;
  std::unique_ptr<asio::ssl::context> tls;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Store& store, const std::string& listen,
                                                      const std::string& tls_cert_pem, const std::string& tls_key_pem) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("--http " + listen + ": expected host:port");
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->impl_ = std::make_unique<Impl>(store);
  beast::error_code ec;
  if (!tls_cert_pem.empty()) {
    s->impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    s->impl_->tls->use_certificate_chain(asio::buffer(tls_cert_pem), ec);
    if (!ec) s->impl_->tls->use_private_key(asio::buffer(tls_key_pem), asio::ssl::context::pem, ec);
    if (ec) return InvalidArgument("--tls-cert/--tls-key: " + ec.message());
  }
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) return InvalidArgument("--http " + listen + ": " + ec.message());
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return InvalidArgument("--http " + listen + ": bad port");
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acc = s->impl_->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("--http " + listen + ": cannot listen: " + ec.message());
  s->impl_->Accept();
  s->impl_->thread = std::thread([impl = s->impl_.get()] { impl->io.run(); });
  return s;
}

std::string HttpServer::address() const {
  const auto ep = impl_->acceptor.local_endpoint();
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

void HttpServer::Shutdown() {
  if (!impl_) return;
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();
}

HttpServer::~HttpServer() { Shutdown(); }

}  // namespace qfarm::controller
