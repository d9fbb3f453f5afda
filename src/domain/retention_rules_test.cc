#include "domain/retention_rules.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "testing/test_support.h"

namespace retention {
namespace {

using ::retention::testing::T;

std::string Show(std::optional<TimePoint> t) { return t ? FormatTime(*t) : "none"; }

TEST(RetentionDaysTest, UsesOverrideWhenSetElseDefault) {
  struct Case {
    std::optional<int> override_days;
    int default_days;
    int want;
  };
  const Case cases[] = {
      {std::nullopt, 30, 30}, {90, 30, 90}, {std::nullopt, 1, 1}, {1, 30, 1},
      {3653, 30, 3653},       {7, 3654, 7},  // a bad default is not used when overridden
  };
  for (const auto& c : cases) {
    auto d = RetentionDays(c.override_days, c.default_days);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, c.want) << "override " << c.override_days.value_or(-1) << " default "
                          << c.default_days;
  }
}

TEST(RetentionDaysTest, RejectsValuesOutsideOneToTenYearsNamingThem) {
  struct Case {
    std::optional<int> override_days;
    int default_days;
    const char* named;
  };
  const Case cases[] = {
      {0, 30, "override 0"},
      {3654, 30, "override 3654"},
      {-5, 30, "override -5"},
      {std::nullopt, 0, "default retention days 0"},
      {std::nullopt, 3654, "default retention days 3654"},
  };
  for (const auto& c : cases) {
    auto d = RetentionDays(c.override_days, c.default_days);
    ASSERT_FALSE(d.ok()) << c.named;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << c.named;
    EXPECT_NE(d.status().message().find(c.named), std::string::npos) << d.status().message();
    EXPECT_NE(d.status().message().find("1-3653"), std::string::npos) << d.status().message();
  }
}

TEST(RetentionDaysTest, PhaseDaysComeBeforeTheOverrideAndTheDefault) {
  struct Case {
    std::optional<int> phase_days;
    std::optional<int> override_days;
    int default_days;
    int want;
  };
  const Case cases[] = {
      {std::nullopt, std::nullopt, 30, 30},
      {std::nullopt, 90, 30, 90},
      {7, 90, 30, 7},
      {7, std::nullopt, 30, 7},
      {3653, 1, 30, 3653},
      {1, 0, 3654, 1},
  };
  for (const auto& c : cases) {
    auto d = RetentionDays(c.phase_days, c.override_days, c.default_days);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, c.want) << "phase " << c.phase_days.value_or(-1);
  }
  for (int bad : {0, 3654, -5}) {
    auto d = RetentionDays(bad, 30, 30);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("phase retention days"), std::string::npos)
        << d.status().ToString();
  }
}

TEST(EligibleDateTest, AKeptPhaseHasNoEligibleDate) {
  const TimePoint end = T("2026-02-01T00:00:00Z");
  EXPECT_EQ(Show(EligibleDate(true, end, false, /*phase_kept=*/true, 30)), "none");
  EXPECT_EQ(Show(EligibleDate(true, end, false, /*phase_kept=*/false, 7)), "2026-02-08T00:00:00Z");
  EXPECT_EQ(Show(EligibleDate(false, end, false, /*phase_kept=*/false, 7)), "none");
}

TEST(EligibleDateTest, FollowsR2) {
  const TimePoint end = T("2026-02-01T00:00:00Z");
  struct Case {
    const char* name;
    bool has_consent;
    std::optional<TimePoint> phase_end;
    bool phase_is_public;
    int days;
    std::optional<TimePoint> want;
  };
  const Case cases[] = {
      {"default 30 gives end + 30", true, end, false, 30, T("2026-03-03T00:00:00Z")},
      {"override 90 gives end + 90", true, end, false, 90, T("2026-05-02T00:00:00Z")},
      {"keeps the time of day", true, T("2026-02-01T17:45:10Z"), false, 1,
       T("2026-02-02T17:45:10Z")},
      // Ten years plus a day: 2028 and 2032 are leap years.
      {"maximum D", true, end, false, 3653, T("2036-02-02T00:00:00Z")},
      {"public phase has none", true, end, true, 30, std::nullopt},
      {"no end date has none", true, std::nullopt, false, 30, std::nullopt},
      {"no consent has none", false, end, false, 30, std::nullopt},
      {"D out of range has none", true, end, false, 0, std::nullopt},
      {"D above range has none", true, end, false, 3654, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Show(EligibleDate(c.has_consent, c.phase_end, c.phase_is_public, c.days)),
              Show(c.want))
        << c.name;
  }
}

TEST(DeletionDateTest, WaitsForTheNoticePeriod) {
  const TimePoint eligible = T("2026-03-03T00:00:00Z");
  struct Case {
    const char* name;
    std::optional<TimePoint> eligible;
    std::optional<TimePoint> notice;
    int notice_days;
    std::optional<TimePoint> want;
  };
  const Case cases[] = {
      {"no eligible date", std::nullopt, T("2026-02-01T00:00:00Z"), 14, std::nullopt},
      {"no eligible date, gate off", std::nullopt, std::nullopt, 0, std::nullopt},
      {"gate off ignores a missing notice", eligible, std::nullopt, 0, eligible},
      {"gate off ignores a late notice", eligible, T("2026-03-20T00:00:00Z"), 0, eligible},
      {"no notice yet", eligible, std::nullopt, 14, std::nullopt},
      {"early notice: eligible date wins", eligible, T("2026-02-10T00:00:00Z"), 14, eligible},
      {"notice exactly 14 days ahead", eligible, T("2026-02-17T00:00:00Z"), 14, eligible},
      {"late notice pushes the date", eligible, T("2026-02-25T12:00:00Z"), 14,
       T("2026-03-11T12:00:00Z")},
      {"notice after the eligible date", eligible, T("2026-04-01T00:00:00Z"), 14,
       T("2026-04-15T00:00:00Z")},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Show(DeletionDate(c.eligible, c.notice, c.notice_days)), Show(c.want)) << c.name;
  }
}

// Facts under which a submission is deleted at 2026-04-01; each case changes one of them.
SweepFacts Deletable() {
  SweepFacts f;
  f.has_consent = true;
  f.phase_end = T("2026-02-01T00:00:00Z");
  f.phase_is_public = false;
  f.retention_days = 30;
  f.stored_eligible_date = T("2026-03-03T00:00:00Z");
  f.challenge_on_hold = false;
  f.submission_on_hold = false;
  f.notice_sent_at = T("2026-02-16T10:00:00Z");
  f.notice_days = 14;
  return f;
}

TEST(DecideSweepTest, ReportsTheFirstRuleThatProtectsASubmission) {
  const TimePoint now = T("2026-04-01T00:00:00Z");
  struct Case {
    const char* name;
    void (*change)(SweepFacts&);
    TimePoint now;
    SkipReason want;
    std::optional<TimePoint> want_deletion;
  };
  const std::optional<TimePoint> normal = T("2026-03-03T00:00:00Z");
  const Case cases[] = {
      {"all rules pass", [](SweepFacts&) {}, now, SkipReason::kNone, normal},
      {"deleted exactly at the deletion date", [](SweepFacts&) {}, T("2026-03-03T00:00:00Z"),
       SkipReason::kNone, normal},
      {"consent withdrawn", [](SweepFacts& f) { f.has_consent = false; }, now,
       SkipReason::kNoConsent, std::nullopt},
      {"no consent beats a hold",
       [](SweepFacts& f) {
         f.has_consent = false;
         f.challenge_on_hold = true;
       },
       now, SkipReason::kNoConsent, std::nullopt},
      {"phase kept", [](SweepFacts& f) { f.phase_kept = true; }, now, SkipReason::kPhaseKept,
       std::nullopt},
      {"keep is refused even when the stored date and D still match",
       [](SweepFacts& f) {
         f.phase_kept = true;
         f.notice_days = 0;
       },
       now, SkipReason::kPhaseKept, std::nullopt},
      {"a kept submission is refused though its stored date still matches (R10)",
       [](SweepFacts& f) {
         f.submission_kept = true;
         f.notice_days = 0;
       },
       now, SkipReason::kKept, std::nullopt},
      {"a kept submission on hold is reported as kept",
       [](SweepFacts& f) {
         f.submission_kept = true;
         f.submission_on_hold = true;
       },
       now, SkipReason::kKept, std::nullopt},
      {"phase days changed D", [](SweepFacts& f) { f.retention_days = 60; }, now,
       SkipReason::kEligibleDateChanged, T("2026-04-02T00:00:00Z")},
      {"phase made public", [](SweepFacts& f) { f.phase_is_public = true; }, now,
       SkipReason::kPhasePublic, std::nullopt},
      {"end date removed", [](SweepFacts& f) { f.phase_end = std::nullopt; }, now,
       SkipReason::kNoEndDate, std::nullopt},
      {"end date moved later", [](SweepFacts& f) { f.phase_end = T("2026-02-20T00:00:00Z"); }, now,
       SkipReason::kEligibleDateChanged, T("2026-03-22T00:00:00Z")},
      {"override changed D", [](SweepFacts& f) { f.retention_days = 29; }, now,
       SkipReason::kEligibleDateChanged, T("2026-03-02T10:00:00Z")},  // the notice wins
      {"stored date missing", [](SweepFacts& f) { f.stored_eligible_date = std::nullopt; }, now,
       SkipReason::kEligibleDateChanged, normal},
      {"stored date earlier than the rules give",
       [](SweepFacts& f) { f.stored_eligible_date = T("2026-03-02T00:00:00Z"); }, now,
       SkipReason::kEligibleDateChanged, normal},
      {"D out of range", [](SweepFacts& f) { f.retention_days = 0; }, now,
       SkipReason::kEligibleDateChanged, std::nullopt},
      {"one second before the eligible date", [](SweepFacts&) {}, T("2026-03-02T23:59:59Z"),
       SkipReason::kNotYetEligible, normal},
      {"challenge on hold", [](SweepFacts& f) { f.challenge_on_hold = true; }, now,
       SkipReason::kChallengeOnHold, normal},
      {"challenge hold reported before submission hold",
       [](SweepFacts& f) {
         f.challenge_on_hold = true;
         f.submission_on_hold = true;
       },
       now, SkipReason::kChallengeOnHold, normal},
      {"submission on hold", [](SweepFacts& f) { f.submission_on_hold = true; }, now,
       SkipReason::kSubmissionOnHold, normal},
      {"no notice yet", [](SweepFacts& f) { f.notice_sent_at = std::nullopt; }, now,
       SkipReason::kNoNoticeYet, std::nullopt},
      {"notice_days 0 turns the gate off",
       [](SweepFacts& f) {
         f.notice_sent_at = std::nullopt;
         f.notice_days = 0;
       },
       now, SkipReason::kNone, normal},
      {"notice_days 0 deletes at the eligible date despite a late notice",
       [](SweepFacts& f) {
         f.notice_sent_at = T("2026-03-31T00:00:00Z");
         f.notice_days = 0;
       },
       now, SkipReason::kNone, normal},
      {"late notice still running",
       [](SweepFacts& f) { f.notice_sent_at = T("2026-03-25T00:00:00Z"); }, now,
       SkipReason::kNoticePeriodRunning, T("2026-04-08T00:00:00Z")},
      {"late notice over", [](SweepFacts& f) { f.notice_sent_at = T("2026-03-18T00:00:00Z"); }, now,
       SkipReason::kNone, T("2026-04-01T00:00:00Z")},
  };
  std::set<SkipReason> seen;
  for (const auto& c : cases) {
    SweepFacts f = Deletable();
    c.change(f);
    const SweepDecision d = DecideSweep(f, c.now);
    EXPECT_EQ(SkipReasonName(d.reason), std::string(SkipReasonName(c.want))) << c.name;
    EXPECT_EQ(d.delete_now, c.want == SkipReason::kNone) << c.name;
    EXPECT_EQ(Show(d.deletion_date), Show(c.want_deletion)) << c.name;
    seen.insert(d.reason);
  }
  EXPECT_EQ(seen.size(), 12u) << "every reason, kNone included, is exercised";
}

TEST(DecideSweepTest, NeverDeletesWithoutConsentWhateverElseHolds) {
  const TimePoint now = T("2040-01-01T00:00:00Z");
  for (int mask = 0; mask < 16; ++mask) {
    SweepFacts f = Deletable();
    f.has_consent = false;
    f.phase_is_public = (mask & 1) != 0;
    f.notice_days = (mask & 2) != 0 ? 0 : 14;
    f.notice_sent_at = (mask & 4) != 0 ? std::optional<TimePoint>() : f.notice_sent_at;
    f.stored_eligible_date = (mask & 8) != 0 ? f.stored_eligible_date : std::nullopt;
    const SweepDecision d = DecideSweep(f, now);
    EXPECT_FALSE(d.delete_now) << mask;
    EXPECT_EQ(d.reason, SkipReason::kNoConsent) << mask;
  }
}

TEST(SkipReasonTest, NamesAreStableSnakeCaseAndTextsAreSentences) {
  struct Case {
    SkipReason reason;
    const char* name;
  };
  const Case cases[] = {
      {SkipReason::kNone, ""},
      {SkipReason::kNoConsent, "no_consent"},
      {SkipReason::kPhaseKept, "phase_kept"},
      {SkipReason::kKept, "kept"},
      {SkipReason::kPhasePublic, "phase_public"},
      {SkipReason::kNoEndDate, "no_end_date"},
      {SkipReason::kEligibleDateChanged, "eligible_date_changed"},
      {SkipReason::kNotYetEligible, "not_yet_eligible"},
      {SkipReason::kChallengeOnHold, "challenge_on_hold"},
      {SkipReason::kSubmissionOnHold, "submission_on_hold"},
      {SkipReason::kNoNoticeYet, "no_notice_yet"},
      {SkipReason::kNoticePeriodRunning, "notice_period_running"},
      {SkipReason::kAwaitingSweepRun, "awaiting_sweep_run"},
  };
  std::set<std::string> texts;
  for (const auto& c : cases) {
    EXPECT_EQ(std::string(SkipReasonName(c.reason)), c.name);
    const std::string text = SkipReasonText(c.reason);
    EXPECT_FALSE(text.empty()) << c.name;
    texts.insert(text);
  }
  EXPECT_EQ(texts.size(), std::size(cases)) << "each reason has its own sentence";
  EXPECT_STREQ(SkipReasonText(SkipReason::kChallengeOnHold), "the challenge is on legal hold");
  EXPECT_STREQ(SkipReasonText(SkipReason::kSubmissionOnHold), "the submission is on legal hold");
}

}  // namespace
}  // namespace retention
