// The dashboard in headless Chromium (Debian's `chromium`): over a synthetic farm history
// (runs, divergence, a latency step, a failed job, a fingerprint change), every page loads with
// no console or page error, charts render (SVG elements present, screenshot not blank), every
// link leads to a page that renders, and the self-contained HTML report does the same offline.
// Also the JSON API's answers and its refusal of anything but GET.
#include <gtest/gtest.h>

#include <boost/asio.hpp>

#include <filesystem>
#include <random>
#include <regex>
#include <set>

#include "controller/http_server.h"
#include "controller/queries.h"
#include "tests/support/farm_util.h"
#include "tests/support/test_util.h"

namespace qfarm::controller {
namespace {

using qfarm::testing::Registration;
using qfarm::testing::TempDir;

const std::string kFarmctl = std::string(QFARM_BINARY_DIR) + "/cli/farmctl";

std::string Chromium() {
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (std::filesystem::exists(c)) return c;
  }
  return "";
}

struct Page {
  std::string dom, log;
};

// Loads a URL in headless Chromium; the app marks data-ready="1" once it has rendered.
Page Load(const std::string& url) {
  auto r = qfarm::testing::Run(Chromium() + " --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 "
                               "--virtual-time-budget=8000 --dump-dom '" + url + "'");
  return {r.out, r.err};
}

void ExpectRendered(const Page& p, const std::string& url) {
  EXPECT_NE(p.dom.find("data-ready=\"1\""), std::string::npos) << url << "\n" << p.dom.substr(0, 2000);
  EXPECT_NE(p.dom.find("<div id=\"qfarm-errors\"></div>"), std::string::npos) << url << ": page errors";
  EXPECT_EQ(p.dom.find("id=\"page-error\""), std::string::npos) << url << "\n" << p.dom.substr(0, 3000);
  std::smatch m;
  EXPECT_FALSE(std::regex_search(p.log, m, std::regex("CONSOLE\\([0-9]+\\)|Uncaught"))) << url << ": " << m.str(0)
                                                                                          << "\n" << p.log;
}

int Count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

std::vector<std::string> HashLinks(const std::string& dom) {
  std::set<std::string> links;
  std::regex re("href=\"(#/[^\"]*)\"");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), re); it != std::sregex_iterator(); ++it) {
    std::string link = (*it)[1];
    for (size_t at = link.find("&amp;"); at != std::string::npos; at = link.find("&amp;")) link.replace(at, 5, "&");
    links.insert(link);
  }
  return {links.begin(), links.end()};
}

// GET or another method over a plain socket; returns the status line and body.
std::string Http(const std::string& address, const std::string& method, const std::string& target) {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  const size_t colon = address.rfind(':');
  socket.connect({asio::ip::make_address(address.substr(0, colon)),
                  static_cast<unsigned short>(std::stoi(address.substr(colon + 1)))});
  const std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
  asio::write(socket, asio::buffer(req));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (size_t n; (n = socket.read_some(asio::buffer(buf), ec)) > 0 && !ec;) out.append(buf, n);
  return out;
}

class DashboardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (Chromium().empty()) return;
    dir_ = new TempDir();
    store_ = std::move(Store::Open(dir_->File("farm.db"), {.health_checks = false}).value()).release();
    FillHistory(*store_);
    http_ = std::move(HttpServer::Start(*store_, "127.0.0.1:0").value()).release();
  }
  static void TearDownTestSuite() {
    delete http_;
    delete store_;
    delete dir_;
  }
  void SetUp() override {
    if (Chromium().empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs it)";
  }

  // Eight nightly runs of two models on two devices; in the last run cpu is 10% slower on m0 and
  // gpu mismatches once on m1; one job of run 7 fails; gpu's fingerprint changes before run 8.
  static void FillHistory(Store& store) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0, 0.02);
    auto reg = Registration("box", {"cpu", "gpu"});
    ASSERT_TRUE(store.RegisterAgent(reg, 0).ok());
    for (int run = 1; run <= 8; ++run) {
      const double now = run * 100.0;
      if (run == 8) {
        reg.mutable_devices(1)->set_kernels_build_id("driver 2.0");
        ASSERT_TRUE(store.RegisterAgent(reg, now).ok());
      }
      qfarm::testing::SubmitSimple(store, {"cpu", "gpu"}, 1, now, 0, 1, 2);
      for (int k = 0; k < 4; ++k) {
        const std::string device = k % 2 ? "gpu" : "cpu";
        auto lease = *store.Lease("box", device, now);
        ASSERT_TRUE(lease.granted);
        v1::Result r = qfarm::testing::ResultFor(lease.job.id(), "box", device);
        if (run == 7 && k == 3) r.set_status(v1::Result::JOB_ERROR);
        const bool slow = run == 8 && device == "cpu" && lease.job.model().name() == "m0";
        const bool mismatch = run == 8 && device == "gpu" && lease.job.model().name() == "m1";
        r.set_profile_text("rounding=half_even");
        r.set_inputs_sha256("in");
        if (mismatch) {
          r.set_status(v1::Result::DIVERGENT);
          r.mutable_outputs(0)->set_mismatches(1);
          r.mutable_outputs(0)->set_bit_exact(false);
          r.mutable_outputs(0)->set_max_abs_delta_lsb(1);
          (*r.mutable_outputs(0)->mutable_delta_histogram())[1] = 1;
          r.set_first_diverging_node("conv1");
          r.set_attribution("reproduced by rounding=half_away");
        }
        r.mutable_outputs(0)->set_has_accuracy(true);
        r.mutable_outputs(0)->set_sqnr_db(mismatch ? 30 : 40);
        v1::TensorMetrics* layer = r.add_layers();
        *layer = r.outputs(0);
        layer->set_node("conv1");
        for (int s = 0; s < 40; ++s) r.mutable_latency()->add_samples_ms((slow ? 1.1 : 1.0) * (1 + noise(rng)));
        r.mutable_latency()->set_p50_ms(slow ? 1.1 : 1.0);
        r.mutable_latency()->set_p90_ms(slow ? 1.15 : 1.05);
        r.mutable_latency()->set_min_ms(0.95);
        r.mutable_latency()->set_comparable_to_hardware(true);
        ASSERT_TRUE(store.Ingest(r, now + 1)->stored);
      }
    }
  }
  std::string Url(const std::string& hash) { return "http://" + http_->address() + "/" + hash; }

  static TempDir* dir_;
  static Store* store_;
  static HttpServer* http_;
};

TempDir* DashboardTest::dir_ = nullptr;
Store* DashboardTest::store_ = nullptr;
HttpServer* DashboardTest::http_ = nullptr;

TEST_F(DashboardTest, EveryPageRendersAndEveryLinkLeadsToAPageThatRenders) {
  const Page runs = Load(Url("#/"));
  ExpectRendered(runs, "#/");
  EXPECT_EQ(Count(runs.dom, "href=\"#/run/"), 8);
  const Page run = Load(Url("#/run/8"));
  ExpectRendered(run, "#/run/8");
  EXPECT_EQ(Count(run.dom, "class=\"cell ok\""), 3);
  EXPECT_EQ(Count(run.dom, "class=\"cell divergent\""), 1);
  EXPECT_EQ(Count(run.dom, "<span class=\"regression\">regression</span>"), 2) << "the latency step and the mismatch";
  const Page devices = Load(Url("#/devices"));
  ExpectRendered(devices, "#/devices");
  EXPECT_NE(devices.dom.find("fingerprint-changed"), std::string::npos);
  std::vector<std::string> links = HashLinks(run.dom);
  const std::vector<std::string> more = HashLinks(devices.dom);
  links.insert(links.end(), more.begin(), more.end());
  std::set<std::string> seen;
  int checked = 0;
  for (const std::string& link : links) {
    if (!seen.insert(link).second || checked >= 14) continue;
    ++checked;
    ExpectRendered(Load(Url(link)), link);
  }
  EXPECT_GE(checked, 8);
}

TEST_F(DashboardTest, JobAndHistoryPagesDrawTheirChartsAndMarkRegressions) {
  int64_t divergent_job = 0;
  const nlohmann::json results = RunQuery(*store_, "results", {{"run", 8}}).value();
  for (const auto& r : results) {
    if (r["status"] == "divergent") divergent_job = r["job"].get<int64_t>();
  }
  const std::string job_url = "#/job/" + std::to_string(divergent_job);
  const Page job = Load(Url(job_url));
  ExpectRendered(job, job_url);
  EXPECT_NE(job.dom.find("data-chart=\"Δ histogram of y (LSB)\""), std::string::npos);
  EXPECT_GE(Count(job.dom, "class=\"bar\""), 2) << "Δ histogram and latency distribution bars";
  EXPECT_NE(job.dom.find("class=\"first\""), std::string::npos) << "the first diverging node is highlighted";
  EXPECT_NE(job.dom.find("reproduced by rounding=half_away"), std::string::npos);
  const std::string hist = "#/history?model=m0&device=box%2Fcpu&profile=rounding%3Dhalf_even";
  const Page history = Load(Url(hist));
  ExpectRendered(history, hist);
  EXPECT_EQ(Count(history.dom, "<svg class=\"chart\""), 3);
  EXPECT_EQ(Count(history.dom, "class=\"line\""), 3);
  EXPECT_EQ(Count(history.dom, "class=\"mark\""), 1) << "run 8's latency step";
  // A screenshot of the history page is far from blank.
  TempDir shots;
  auto shoot = [&](const std::string& url, const std::string& file) {
    qfarm::testing::Run(Chromium() + " --headless=new --no-sandbox --disable-gpu --hide-scrollbars "
                        "--window-size=1000,800 --virtual-time-budget=8000 --screenshot=" + shots.File(file) + " '" + url + "'");
    return std::filesystem::exists(shots.File(file)) ? std::filesystem::file_size(shots.File(file)) : 0;
  };
  const auto blank = shoot("about:blank", "blank.png");
  const auto page = shoot(Url(hist), "history.png");
  ASSERT_GT(blank, 0u);
  EXPECT_GT(page, 5 * blank) << "blank " << blank << " bytes, history " << page << " bytes";
}

TEST_F(DashboardTest, TheHtmlReportIsSelfContainedAndItsLinksWorkOffline) {
  const std::string file = dir_->File("report.html");
  auto r = qfarm::testing::Run(kFarmctl + " report --run 8 --html " + file + " --db " + dir_->File("farm.db"));
  ASSERT_EQ(r.exit_code, 1) << "run 8 diverges: " << r.err;
  const std::string html = qfarm::testing::ReadAll(file);
  EXPECT_EQ(html.find("src=\"/static"), std::string::npos);
  EXPECT_NE(html.find("window.QFARM_DATA = "), std::string::npos);
  const Page page = Load("file://" + file);
  ExpectRendered(page, "report");
  EXPECT_EQ(Count(page.dom, "class=\"cell "), 4);
  int checked = 0;
  for (const std::string& link : HashLinks(page.dom)) {
    if (checked++ >= 10) break;
    ExpectRendered(Load("file://" + file + link), "report " + link);
  }
}

TEST_F(DashboardTest, TheJsonApiAnswersQueriesAndRefusesWrites) {
  const std::string ok = Http(http_->address(), "GET", "/api/regressions?run=8");
  EXPECT_NE(ok.find("200 OK"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\"regression\":true"), std::string::npos);
  EXPECT_NE(Http(http_->address(), "POST", "/api/runs").find("405"), std::string::npos);
  EXPECT_NE(Http(http_->address(), "GET", "/api/history?model=m0&device=box%2Fcpu&metric=DROP").find("400"), std::string::npos);
  EXPECT_NE(Http(http_->address(), "GET", "/../../etc/passwd").find("404"), std::string::npos);
  EXPECT_NE(Http(http_->address(), "GET", "/api/job?job=99999").find("404"), std::string::npos);
}

}  // namespace
}  // namespace qfarm::controller
