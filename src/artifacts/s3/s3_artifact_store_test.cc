// S3ArtifactStore against s3rver behind tests/integration/s3_server.py (testing/s3_server.h),
// which verifies every SigV4 signature with botocore and Content-MD5, counts requests and
// injects faults: what is particular to this adapter (URLs, credentials, signing, batching,
// per-key results, retries). The port's promises are in artifacts/artifact_store_contract_test.cc.
#include "artifacts/s3/s3_artifact_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "artifacts/s3/s3_xml.h"
#include "core/markup.h"
#include "testing/s3_server.h"

namespace retention {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::S3Server;

class S3ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(server_.error(), "");
    server_.Reset();
    prefix_ = S3Server::FreshPrefix();
    store_ = Open(S3Server::FastOptions());
  }
  void TearDown() override { server_.Reset(); }
  std::unique_ptr<S3ArtifactStore> Open(const S3Options& options) {
    auto store = S3ArtifactStore::Open(server_.Url(prefix_), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::string Full(const std::string& key) const { return prefix_ + "/" + key; }
  // Signed requests the server saw with `method` (and the DeleteObjects query when POST).
  std::vector<json> CallsOf(const std::string& method) const {
    std::vector<json> out;
    for (const json& call : server_.Calls()) {
      if (call["method"] == method) out.push_back(call);
    }
    return out;
  }
  // Puts `objects` from a few threads (the store is thread-safe; one at a time is slow).
  void PutAll(const std::vector<std::pair<std::string, std::string>>& objects) {
    std::atomic<std::size_t> next{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&] {
        for (std::size_t i = next++; i < objects.size(); i = next++) {
          if (!store_->Put(objects[i].first, objects[i].second).ok()) ++failed;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    ASSERT_EQ(failed.load(), 0);
  }
  std::int64_t SizeOf(const std::string& key) {
    auto size = store_->Size(key);
    EXPECT_TRUE(size.ok()) << key << ": " << size.status().ToString();
    return size.ok() ? size->value_or(-1) : -2;
  }

  S3Server& server_ = S3Server::Shared();
  std::string prefix_;
  std::unique_ptr<S3ArtifactStore> store_;
};

TEST_F(S3ArtifactStoreTest, SignsEveryOperationSoTheVerifierAcceptsIt) {
  // The key needs encoding in the path: space, '+', '~', UTF-8, '='.
  const std::string key = "submissions/700/in put+x~=€.zip";
  ASSERT_TRUE(store_->Put(key, "hello").ok());
  EXPECT_EQ(SizeOf(key), 5);
  const std::vector<Status> deleted = store_->DeleteMany({key});
  ASSERT_EQ(deleted.size(), 1U);
  EXPECT_TRUE(deleted[0].ok()) << deleted[0].ToString();
  EXPECT_EQ(SizeOf(key), -1);
  EXPECT_TRUE(store_->Delete(key).ok());
  // Every request passed the verifier (a refused signature is 403 or 400).
  std::vector<std::string> seen;
  for (const json& call : server_.Calls()) {
    seen.push_back(call["method"].get<std::string>() + " " +
                   std::to_string(call["status"].get<int>()));
  }
  EXPECT_THAT(seen,
              ::testing::ElementsAre("PUT 200", "HEAD 200", "POST 200", "HEAD 404", "DELETE 204"));
  EXPECT_EQ(store_->Location(key), "s3://retention-test/" + prefix_ + "/" + key);
}

TEST_F(S3ArtifactStoreTest, WrongSecretKeyFailsTheSignatureCheck) {
  S3Options options = S3Server::FastOptions();
  options.credentials->secret_access_key = "not-the-secret";
  auto store = Open(options);
  const Status put = store->Put("a/b", "x");
  EXPECT_EQ(put.code(), StatusCode::kUnauthenticated) << put.ToString();
  EXPECT_THAT(put.message(), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(put.message(), HasSubstr("s3 put s3://retention-test/" + prefix_ + "/a/b"));
  EXPECT_EQ(SizeOf("a/b"), -1) << "a refused put writes nothing";
}

TEST_F(S3ArtifactStoreTest, SendsAndSignsTheSessionToken) {
  S3Options options = S3Server::FastOptions();
  options.credentials->session_token = "session-token-1";
  auto store = Open(options);
  EXPECT_TRUE(store->Put("a/b", "xy").ok());
  auto size = store->Size("a/b");
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(size->value_or(-1), 2);
}

TEST_F(S3ArtifactStoreTest, SizesAndDeletesOf2500KeysTakeThreeRequestsEach) {
  std::vector<std::string> keys;
  for (int i = 0; i < 2500; ++i) {
    keys.push_back("s/" + std::to_string(i / 50) + "/" + std::to_string(i));
  }
  // A kept object in every folder: a DeleteObjects that empties a prefix makes s3rver answer
  // 500 after deleting (its quirk, which RetriesSlowDownAndTheFiveHundredOfADeleteThatDeleted
  // covers), and each batch would then be sent twice.
  std::vector<std::pair<std::string, std::string>> objects;
  for (std::size_t i = 0; i < keys.size(); ++i)
    objects.emplace_back(keys[i], std::string(i % 7, 'x'));
  for (int folder = 0; folder < 50; ++folder) {
    objects.emplace_back("s/" + std::to_string(folder) + "/keep", "k");
  }
  PutAll(objects);
  std::vector<std::string> asked = keys;
  asked.insert(asked.begin() + 1200, "s/24/never");  // missing, among present keys
  server_.Reset();
  const auto sizes = store_->SizeMany(asked);
  ASSERT_EQ(sizes.size(), asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    ASSERT_TRUE(sizes[i].ok()) << asked[i] << ": " << sizes[i].status().ToString();
    const std::size_t n = i < 1200 ? i : i - 1;
    EXPECT_EQ(sizes[i]->value_or(-1), i == 1200 ? -1 : static_cast<std::int64_t>(n % 7))
        << asked[i];
  }
  // 2,550 objects under the prefix, 1000 per page: three ListObjectsV2, no HeadObject.
  const std::vector<json> lists = CallsOf("GET");
  ASSERT_EQ(lists.size(), 3U);
  EXPECT_THAT(lists[0]["query"].get<std::string>(), HasSubstr("list-type=2&max-keys=1000"));
  EXPECT_EQ(server_.Calls().size(), 3U) << "no request but the three listings";

  server_.Reset();
  const std::vector<Status> got = store_->DeleteMany(keys);
  ASSERT_EQ(got.size(), keys.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i].ok()) << i << got[i].ToString();
  const std::vector<json> posts = CallsOf("POST");
  ASSERT_EQ(posts.size(), 3U);
  EXPECT_EQ(posts[0]["keys"], 1000);
  EXPECT_EQ(posts[1]["keys"], 1000);
  EXPECT_EQ(posts[2]["keys"], 500);
  EXPECT_EQ(posts[0]["query"], "delete=");
  EXPECT_EQ(server_.Calls().size(), 3U) << "no request but the three DeleteObjects";
  EXPECT_EQ(SizeOf(keys[0]), -1);
  EXPECT_EQ(SizeOf(keys[2498]), -1);
  EXPECT_EQ(SizeOf("s/49/keep"), 1);
}

TEST_F(S3ArtifactStoreTest, SizeManyJumpsOverObjectsNobodyAskedFor) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store_->Put("a/" + std::to_string(100 + i), "x").ok());
  ASSERT_TRUE(store_->Put("b/1", "yy").ok());
  server_.Reset();
  const auto sizes = store_->SizeMany({"b/1", "a/105"});
  ASSERT_EQ(sizes.size(), 2U);
  ASSERT_TRUE(sizes[0].ok() && sizes[1].ok());
  EXPECT_EQ(sizes[0]->value_or(-1), 2);
  EXPECT_EQ(sizes[1]->value_or(-1), 1);
  const std::vector<json> lists = CallsOf("GET");
  ASSERT_EQ(lists.size(), 1U);
  EXPECT_THAT(lists[0]["query"].get<std::string>(),
              HasSubstr("start-after=" + prefix_ + "%2Fa%2F10"))
      << "the listing starts just below the first key asked for";
  server_.Faults({{"answer", {{{"status", 403}, {"code", "AccessDenied"}, {"count", 1}}}}});
  const auto denied = store_->SizeMany({"a/100", "../x"});
  EXPECT_EQ(denied[0].status().code(), StatusCode::kPermissionDenied)
      << denied[0].status().ToString();
  EXPECT_EQ(denied[1].status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3ArtifactStoreTest, AKeyTheServerFailsKeepsItsErrorAndIsDeletedNextTime) {
  const std::vector<std::string> keys = {"s/1/in", "s/1/denied", "s/1/flaky", "s/1/unsaid",
                                         "s/2/in"};
  for (const std::string& key : keys) ASSERT_TRUE(store_->Put(key, "x").ok()) << key;
  server_.Faults(
      {{"fail_keys", {{Full("s/1/denied"), "AccessDenied"}, {Full("s/1/flaky"), "InternalError"}}},
       {"omit_keys", {Full("s/1/unsaid")}}});
  const std::vector<Status> got = store_->DeleteMany(keys);
  ASSERT_EQ(got.size(), keys.size());
  EXPECT_TRUE(got[0].ok()) << got[0].ToString();
  EXPECT_EQ(got[1].code(), StatusCode::kPermissionDenied) << got[1].ToString();
  EXPECT_THAT(got[1].message(),
              HasSubstr("AccessDenied: injected failure for " + Full("s/1/denied")));
  EXPECT_THAT(got[1].message(), HasSubstr("s3://retention-test/" + Full("s/1/denied")));
  EXPECT_EQ(got[2].code(), StatusCode::kUnavailable) << got[2].ToString();
  EXPECT_THAT(got[2].message(), HasSubstr("InternalError"));
  EXPECT_EQ(got[3].code(), StatusCode::kUnavailable) << got[3].ToString();
  EXPECT_THAT(got[3].message(), HasSubstr("does not mention the key"));
  EXPECT_TRUE(got[4].ok()) << got[4].ToString();
  EXPECT_EQ(SizeOf("s/1/denied"), 1) << "a failed key's object is still there";
  EXPECT_EQ(SizeOf("s/1/flaky"), 1);
  EXPECT_EQ(SizeOf("s/1/in"), -1);
  EXPECT_EQ(CallsOf("POST").size(), 1U) << "per-key errors are answers, not retried requests";

  server_.Reset();
  for (const Status& s : store_->DeleteMany(keys)) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(SizeOf("s/1/denied"), -1);
  EXPECT_EQ(SizeOf("s/1/flaky"), -1);
}

TEST_F(S3ArtifactStoreTest, RetriesSlowDownAndTheFiveHundredOfADeleteThatDeleted) {
  ASSERT_TRUE(store_->Put("s/1/in", "x").ok());
  ASSERT_TRUE(store_->Put("s/1/out", "x").ok());
  server_.Reset();
  server_.Faults({{"answer", {{{"status", 503}, {"code", "SlowDown"}, {"count", 2}}}},
                  {"error_after_delete", 1}});
  const std::vector<Status> got = store_->DeleteMany({"s/1/in", "s/1/out"});
  for (const Status& s : got) EXPECT_TRUE(s.ok()) << s.ToString();
  const std::vector<json> posts = CallsOf("POST");
  ASSERT_EQ(posts.size(), 4U) << "two SlowDown, one 500 after deleting, one success";
  EXPECT_EQ(posts[0]["status"], 503);
  EXPECT_EQ(posts[1]["status"], 503);
  EXPECT_EQ(posts[2]["status"], 500);
  EXPECT_EQ(posts[3]["status"], 200);
  EXPECT_EQ(SizeOf("s/1/in"), -1);
  EXPECT_EQ(SizeOf("s/1/out"), -1);
}

TEST_F(S3ArtifactStoreTest, PersistentServerErrorsEndUnavailableAfterMaxAttempts) {
  S3Options options = S3Server::FastOptions();
  options.max_attempts = 3;
  auto store = Open(options);
  server_.Faults({{"answer", {{{"status", 500}, {"code", "InternalError"}, {"count", 100}}}}});
  const Status put = store->Put("a/b", "x");
  EXPECT_EQ(put.code(), StatusCode::kUnavailable) << put.ToString();
  EXPECT_THAT(put.message(), HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(CallsOf("PUT").size(), 3U);
  const std::vector<Status> got = store->DeleteMany({"a/b", "a/c"});
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0].code(), StatusCode::kUnavailable) << got[0].ToString();
  EXPECT_THAT(got[1].message(), HasSubstr("delete s3://retention-test/" + Full("a/c")));
}

TEST_F(S3ArtifactStoreTest, ATimedOutRequestIsRetried) {
  S3Options options = S3Server::FastOptions();
  options.request_timeout = std::chrono::milliseconds(300);
  auto store = Open(options);
  server_.Faults({{"answer", {{{"delay", 1.5}, {"count", 1}, {"method", "PUT"}}}}});
  const Status put = store->Put("slow/1", "abc");
  EXPECT_TRUE(put.ok()) << put.ToString();
  EXPECT_EQ(CallsOf("PUT").size(), 2U) << "the timed-out PUT and its retry";
  EXPECT_EQ(SizeOf("slow/1"), 3);
}

TEST_F(S3ArtifactStoreTest, ClientErrorsAreNotRetried) {
  server_.Faults({{"answer", {{{"status", 400}, {"code", "InvalidRequest"}, {"count", 1}}}}});
  const Status put = store_->Put("a/b", "x");
  EXPECT_EQ(put.code(), StatusCode::kInternal) << put.ToString();
  EXPECT_EQ(CallsOf("PUT").size(), 1U);
}

TEST_F(S3ArtifactStoreTest, ConnectionFailureIsUnavailableAfterRetries) {
  S3Options options = S3Server::FastOptions();
  options.max_attempts = 2;
  // Port 9 (discard) on loopback: nothing listens there on a test machine.
  auto store = S3ArtifactStore::Open(
      "s3://retention-test/p?region=us-east-1&endpoint=http://127.0.0.1:9", options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const Status del = (*store)->Delete("a/b");
  EXPECT_EQ(del.code(), StatusCode::kUnavailable) << del.ToString();
  EXPECT_THAT(del.message(), HasSubstr("cannot reach S3"));
  EXPECT_THAT(del.message(), HasSubstr("gave up after 2 attempts"));
}

TEST(S3ArtifactStoreOpenTest, RejectsBadUrlsSayingWhatIsWrong) {
  const S3Options options = S3Server::FastOptions();
  const std::pair<const char*, const char*> cases[] = {
      {"s3:/bkt?region=us-east-1", "must start with s3://"},
      {"s3://?region=us-east-1", "names no bucket"},
      {"s3://Bad_Bucket?region=us-east-1", "bucket 'Bad_Bucket' must be"},
      {"s3://bkt/a/../b?region=us-east-1", "prefix is not a valid key"},
      {"s3://bkt/p", "names no region=R"},
      {"s3://bkt/p?region=US", "region 'US' is not a region"},
      {"s3://bkt/p?region=us-east-1&color=red", "unknown parameter 'color'"},
      {"s3://bkt/p?region=us-east-1&region=eu-west-1", "'region' is given twice"},
      {"s3://bkt/p?region=us-east-1&endpoint=ftp://h", "endpoint must be an http://"},
      {"s3://bkt/p?region=us-east-1&endpoint=http%3A%2F%2Fh%2", "malformed %-escape"},
  };
  for (const auto& [url, why] : cases) {
    auto store = S3ArtifactStore::Open(url, options);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(store.status().message(), HasSubstr(why)) << url;
    EXPECT_THAT(store.status().message(), HasSubstr(url)) << url;
  }
  S3Options bad = options;
  bad.delete_batch = 1001;
  EXPECT_EQ(S3ArtifactStore::Open("s3://bkt?region=us-east-1", bad).status().code(),
            StatusCode::kInvalidArgument);
  auto good = S3ArtifactStore::Open("s3://bkt/a/b/?region=eu-west-1", options);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ((*good)->Location("k/1"), "s3://bkt/a/b/k/1");
}

TEST(S3ArtifactStoreOpenTest, NamesEveryMissingCredential) {
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  auto store = S3ArtifactStore::Open("s3://bkt?region=us-east-1");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(),
              HasSubstr("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
}

TEST(S3XmlTest, ReadsDeleteResultsErrorsAndListPages) {
  auto outcomes = s3_internal::ParseDeleteResult(
      "<?xml version=\"1.0\"?><DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Deleted><Key>a&amp;b</Key></Deleted><Error><Key>c</Key><Code>AccessDenied</Code>"
      "<Message>no</Message></Error></DeleteResult>");
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().ToString();
  ASSERT_EQ(outcomes->size(), 2U);
  EXPECT_EQ((*outcomes)[0].key, "a&b");
  EXPECT_TRUE((*outcomes)[0].deleted);
  EXPECT_EQ((*outcomes)[1].code, "AccessDenied");
  EXPECT_FALSE((*outcomes)[1].deleted);
  EXPECT_EQ(s3_internal::ParseDeleteResult("<Error/>").status().code(), StatusCode::kInternal);
  EXPECT_EQ(s3_internal::ParseDeleteResult("<DeleteResult>").status().code(),
            StatusCode::kInternal);
  const s3_internal::S3Error error = s3_internal::ParseS3Error(
      "<Error><Code>SlowDown</Code><Message>Please reduce</Message></Error>");
  EXPECT_EQ(error.code, "SlowDown");
  EXPECT_EQ(error.message, "Please reduce");
  auto page = s3_internal::ParseListPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>k</Key><Size>12</Size>"
      "</Contents><NextContinuationToken>tok</NextContinuationToken></ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1U);
  EXPECT_EQ(page->objects[0].size, 12);
  EXPECT_EQ(page->next_token, "tok");
  EXPECT_EQ(MarkupEscape("a<&>'\""), "a&lt;&amp;&gt;&#39;&quot;");
}

}  // namespace
}  // namespace retention
