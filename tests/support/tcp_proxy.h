// A loopback TCP proxy that injects network faults between an agent and the controller: every
// chunk is delayed by `delay_ms`, and with probability `drop` a chunk kills its connection (both
// directions reset, as a flaky network or a NAT timeout would). One chunk among the first 40,
// picked by the seed, always kills its connection, so every run sees at least one fault (at 3%
// over ~170 chunks, about one seed in 190 would otherwise draw none). Seeded, so a failure replays.
#pragma once

#include <boost/asio.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace qfarm::testing {

class TcpProxy {
 public:
  TcpProxy(int upstream_port, double drop, int delay_ms, uint64_t seed)
      : upstream_port_(upstream_port), drop_(drop), delay_ms_(delay_ms), rng_(seed),
        acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    forced_drop_ = 8 + static_cast<int64_t>(rng_() % 32);
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TcpProxy() {
    io_.stop();
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  int64_t dropped() const { return dropped_; }
  int64_t chunks() const { return chunks_; }

 private:
  using tcp = boost::asio::ip::tcp;
  struct Link {
    explicit Link(boost::asio::io_context& io) : client(io), server(io) {}
    tcp::socket client, server;
    void Close() {
      boost::system::error_code ec;
      client.close(ec);
      server.close(ec);
    }
  };

  bool Drop(int64_t chunk) {
    std::lock_guard<std::mutex> lock(mu_);
    const bool random_drop = std::uniform_real_distribution<double>(0, 1)(rng_) < drop_;
    return random_drop || chunk == forced_drop_;
  }

  void Accept() {
    auto link = std::make_shared<Link>(io_);
    acceptor_.async_accept(link->client, [this, link](boost::system::error_code ec) {
      if (ec) return;
      link->server.async_connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_port_)},
                                 [this, link](boost::system::error_code ec2) {
                                   if (ec2) return link->Close();
                                   Pump(link, &link->client, &link->server);
                                   Pump(link, &link->server, &link->client);
                                 });
      Accept();
    });
  }

  void Pump(std::shared_ptr<Link> link, tcp::socket* from, tcp::socket* to) {
    auto buf = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(boost::asio::buffer(*buf), [=, this](boost::system::error_code ec, size_t n) {
      if (ec) return link->Close();
      if (Drop(++chunks_)) {
        ++dropped_;
        return link->Close();
      }
      auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(delay_ms_));
      timer->async_wait([=, this](boost::system::error_code) {
        boost::asio::async_write(*to, boost::asio::buffer(buf->data(), n), [=, this](boost::system::error_code ec2, size_t) {
          if (ec2) return link->Close();
          Pump(link, from, to);
        });
      });
    });
  }

  int upstream_port_;
  double drop_;
  int delay_ms_;
  int64_t forced_drop_ = 0;  // 1-based index of the chunk that always drops
  std::mutex mu_;
  std::mt19937_64 rng_;
  std::atomic<int64_t> dropped_{0}, chunks_{0};
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace qfarm::testing
