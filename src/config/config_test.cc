#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "core/time.h"

namespace retention {
namespace {

// Sets an environment variable for the lifetime of the object (tests in this binary run on one
// thread).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(ConfigTest, Issue8Defect11InvalidFakeNowIsAnErrorNamingTheVariableAndValue) {
  for (const char* bad : {"yesterday", "2026-13-01T00:00:00Z", "2026-06-01T00:00:00",
                          "2026-06-01T25:00:00Z", " 2026-06-01T00:00:00Z"}) {
    ScopedEnv env("RETENTION_FAKE_NOW", bad);
    auto config = LoadConfig({});
    ASSERT_FALSE(config.ok()) << bad;
    EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
    const std::string message = config.status().message();
    EXPECT_NE(message.find("RETENTION_FAKE_NOW"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("'") + bad + "'"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(ConfigTest, Issue8Defect11InvalidFakeNowIsListedWithTheOtherErrors) {
  ScopedEnv now("RETENTION_FAKE_NOW", "soon");
  ScopedEnv days("RETENTION_DEFAULT_DAYS", "abc");
  auto config = LoadConfig({});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("RETENTION_FAKE_NOW: 'soon'"), std::string::npos)
      << config.status().message();
  EXPECT_NE(config.status().message().find("RETENTION_DEFAULT_DAYS"), std::string::npos)
      << config.status().message();
}

TEST(ConfigTest, Issue8Defect11ValidFakeNowIsParsedAndEmptyMeansUnset) {
  {
    ScopedEnv env("RETENTION_FAKE_NOW", "2026-06-01T02:00:00+02:00");
    auto config = LoadConfig({});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    ASSERT_TRUE(config->fake_now.has_value());
    EXPECT_EQ(FormatTime(*config->fake_now), "2026-06-01T00:00:00Z");
  }
  {
    ScopedEnv env("RETENTION_FAKE_NOW", "");
    auto config = LoadConfig({});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_FALSE(config->fake_now.has_value());
  }
}

TEST(ConfigTest, Issue11ReplicaSettingsAreReadAndCheckedOnOneLine) {
  {
    ScopedEnv ttl("RETENTION_LEASE_TTL_SECONDS", "30");
    ScopedEnv replica("RETENTION_REPLICA", "web-2");
    auto config = LoadConfig({});
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->lease_ttl_seconds, 30);
    EXPECT_EQ(config->replica, "web-2");
    EXPECT_EQ(config->clock_speed, 1);
  }
  {
    ScopedEnv ttl("RETENTION_LEASE_TTL_SECONDS", "1");
    ScopedEnv replica("RETENTION_REPLICA", "a@b");
    ScopedEnv speed("RETENTION_CLOCK_SPEED", "60");
    auto config = LoadConfig({});
    ASSERT_FALSE(config.ok());
    const std::string message = config.status().message();
    EXPECT_NE(message.find("scheduler.lease_ttl_seconds: 1 is out of range 2-86400"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("scheduler.replica: 'a@b'"), std::string::npos) << message;
    EXPECT_NE(message.find("RETENTION_CLOCK_SPEED: needs RETENTION_FAKE_NOW"), std::string::npos)
        << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace retention
