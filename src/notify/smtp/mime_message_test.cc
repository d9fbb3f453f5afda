#include "notify/smtp/mime_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace retention::mime {
namespace {

// Test-side decoders, written independently of the encoders under test.
std::string DecodeQuotedPrintable(const std::string& qp) {
  std::string out;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] == '=' && i + 2 < qp.size() && qp[i + 1] == '\r' && qp[i + 2] == '\n') {
      i += 2;  // soft line break
    } else if (qp[i] == '=' && i + 2 < qp.size()) {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += qp[i];
    }
  }
  return out;
}

std::string DecodeBase64(const std::string& in) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (const char c : in) {
    if (c == '=') {
      break;
    }
    bits = (bits << 6) | static_cast<unsigned>(alphabet.find(c));
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out += static_cast<char>((bits >> nbits) & 0xff);
    }
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find("\r\n", start);
    lines.push_back(text.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) {
      return lines;
    }
    start = end + 2;
  }
}

TEST(MimeMessageTest, ParsesMailboxForms) {
  struct Case {
    const char* text;
    const char* name;
    const char* address;
  };
  for (const Case& c : std::vector<Case>{
           {"bob@example.org", "", "bob@example.org"},
           {"  bob@example.org ", "", "bob@example.org"},
           {"Retention <noreply@example.org>", "Retention", "noreply@example.org"},
           {"\"Doe, Jane\" <jane@example.org>", "Doe, Jane", "jane@example.org"},
           {"Jürgen Müller <jm@example.org>", "Jürgen Müller", "jm@example.org"},
       }) {
    auto parsed = ParseMailbox(c.text, "address");
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status().ToString();
    EXPECT_EQ(parsed->display_name, c.name) << c.text;
    EXPECT_EQ(parsed->address, c.address) << c.text;
  }
}

TEST(MimeMessageTest, RejectsMalformedMailboxes) {
  for (const char* text : {"", "   ", "no-at-sign", "@example.org", "bob@", "bo b@example.org",
                           "bob@example.org\r\nBcc: eve@example.org", "Bob bob@example.org>",
                           "a@x.org, b@x.org", "bøb@example.org"}) {
    auto parsed = ParseMailbox(text, "mail recipient");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("mail recipient"), std::string::npos);
  }
}

TEST(MimeMessageTest, FormatsMailboxWithQuotingOrEncoding) {
  EXPECT_EQ(FormatMailbox({"", "a@x.org"}), "a@x.org");
  EXPECT_EQ(FormatMailbox({"Retention", "a@x.org"}), "Retention <a@x.org>");
  EXPECT_EQ(FormatMailbox({"Doe, \"J\"", "a@x.org"}), "\"Doe, \\\"J\\\"\" <a@x.org>");
  EXPECT_EQ(FormatMailbox({"Jö", "a@x.org"}), "=?UTF-8?B?SsO2?= <a@x.org>");
}

TEST(MimeMessageTest, EncodesNonAsciiSubjectAsRfc2047) {
  EXPECT_EQ(EncodeWords("Löschung"), "=?UTF-8?B?TMO2c2NodW5n?=");
  EXPECT_EQ(EncodeHeaderValue("Löschung", 9), "=?UTF-8?B?TMO2c2NodW5n?=");
  EXPECT_EQ(EncodeHeaderValue("Data deletion notice", 9), "Data deletion notice");
}

TEST(MimeMessageTest, LongEncodedSubjectSplitsOnCharacterBoundaries) {
  std::string subject;
  for (int i = 0; i < 40; ++i) {
    subject += "Lösch€ ";
  }
  const std::string encoded = EncodeHeaderValue(subject, 9);
  std::string decoded;
  for (const std::string& line : Lines(encoded)) {
    std::string word = line.front() == ' ' ? line.substr(1) : line;
    ASSERT_LE(word.size(), 75U);
    ASSERT_EQ(word.rfind("=?UTF-8?B?", 0), 0U) << word;
    ASSERT_EQ(word.substr(word.size() - 2), "?=");
    const std::string part = DecodeBase64(word.substr(10, word.size() - 12));
    // Every word decodes to whole characters: it never starts with a continuation byte.
    ASSERT_NE(static_cast<unsigned char>(part.front()) & 0xC0, 0x80U);
    decoded += part;
  }
  EXPECT_EQ(decoded, subject);
}

TEST(MimeMessageTest, LongAsciiSubjectFoldsAtSpaces) {
  std::string subject;
  for (int i = 0; i < 30; ++i) {
    subject += "word" + std::to_string(i) + " ";
  }
  subject += "end";
  const std::string folded = EncodeHeaderValue(subject, 9);
  const auto lines = Lines("Subject: " + folded);
  EXPECT_GT(lines.size(), 1U);
  for (const auto& line : lines) {
    EXPECT_LE(line.size(), 78U) << line;
  }
  std::string unfolded = folded;
  for (auto pos = unfolded.find("\r\n"); pos != std::string::npos; pos = unfolded.find("\r\n")) {
    unfolded.erase(pos, 2);
  }
  EXPECT_EQ(unfolded, subject);
}

TEST(MimeMessageTest, QuotedPrintableEscapesAndRoundTrips) {
  struct Case {
    std::string in;
    std::string out;
  };
  for (const Case& c : std::vector<Case>{
           {"plain text", "plain text"},
           {"a=b", "a=3Db"},
           {"größe", "gr=C3=B6=C3=9Fe"},
           {"trailing \nspace\t", "trailing=20\r\nspace=09"},
           {".hidden\n.", "=2Ehidden\r\n=2E"},
           {"a\nb\r\nc\rd\n", "a\r\nb\r\nc\r\nd\r\n"},
       }) {
    EXPECT_EQ(QuotedPrintable(c.in), c.out) << c.in;
  }
  std::string long_line(200, 'a');
  long_line += " ü ";
  const std::string qp = QuotedPrintable(long_line);
  for (const auto& line : Lines(qp)) {
    EXPECT_LE(line.size(), 76U) << line;
  }
  EXPECT_EQ(DecodeQuotedPrintable(qp), long_line);
}

TEST(MimeMessageTest, FormatsRfc5322Date) {
  EXPECT_EQ(FormatMailDate(FromUnix(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(FormatMailDate(FromUnix(1772532005)), "Tue, 03 Mar 2026 10:00:05 +0000");
}

TEST(MimeMessageTest, BuildsMultipartAlternative) {
  const MailMessage m{.from = "",
                      .to = "bob@example.org",
                      .subject = "Löschung in 14 Tagen",
                      .text = "Hello Bob,\n3 submissions.\n",
                      .html = "<p>Hello Bob,</p>"};
  auto built = BuildMessage(m, {"Retention", "noreply@example.org"}, {"", "bob@example.org"},
                            FromUnix(1772532005), "id1@example.org", "=_b0undary");
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const std::string& s = *built;
  for (const char* expected : {
           "Date: Tue, 03 Mar 2026 10:00:05 +0000\r\n",
           "From: Retention <noreply@example.org>\r\n",
           "To: bob@example.org\r\n",
           "Subject: =?UTF-8?B?",
           "Message-ID: <id1@example.org>\r\n",
           "MIME-Version: 1.0\r\n",
           "Content-Type: multipart/alternative; boundary=\"=_b0undary\"\r\n",
           "\r\n--=_b0undary\r\nContent-Type: text/plain; charset=UTF-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello Bob,\r\n3 submissions.\r\n",
           "\r\n--=_b0undary\r\nContent-Type: text/html; charset=UTF-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hello Bob,</p>",
       }) {
    EXPECT_NE(s.find(expected), std::string::npos) << "missing: " << expected << "\nin:\n" << s;
  }
  EXPECT_EQ(s.substr(s.size() - 18), "\r\n--=_b0undary--\r\n");
  // Only CRLF line ends, and the header block ends before the first part.
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      ASSERT_TRUE(i > 0 && s[i - 1] == '\r') << "bare LF at " << i;
    }
  }
}

TEST(MimeMessageTest, BuildsSinglePartWithoutHtml) {
  const MailMessage m{.from = "", .to = "b@x.org", .subject = "s", .text = "t", .html = ""};
  auto built = BuildMessage(m, {"", "a@x.org"}, {"", "b@x.org"}, FromUnix(0), "i@x", "=_b");
  ASSERT_TRUE(built.ok());
  EXPECT_NE(built->find("Content-Type: text/plain; charset=UTF-8\r\n"), std::string::npos);
  EXPECT_EQ(built->find("multipart"), std::string::npos);
}

TEST(MimeMessageTest, RefusesSubjectWithLineBreak) {
  const MailMessage m{
      .from = "", .to = "b@x.org", .subject = "a\r\nBcc: e@x.org", .text = "t", .html = ""};
  auto built = BuildMessage(m, {"", "a@x.org"}, {"", "b@x.org"}, FromUnix(0), "i@x", "=_b");
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace retention::mime
