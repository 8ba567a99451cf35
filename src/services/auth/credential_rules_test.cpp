#include "services/auth/credential_rules.hpp"

#include <boost/json/array.hpp>
#include <gtest/gtest.h>

#include "core/problem.hpp"

namespace marquee::auth {
namespace {

template <class F>
void expect_invalid(std::string_view field, F&& f) {
    try {
        f();
        ADD_FAILURE() << "accepted";
    } catch (const core::Problem& p) {
        EXPECT_EQ(p.status(), 400);
        EXPECT_EQ(p.type(), "invalid-field");
        EXPECT_EQ(p.extensions().at("field").as_string(), field);
    }
}

TEST(EmailRules, LowerCasesAsciiAndKeepsTheRest) {
    EXPECT_EQ(normalize_email("Fan.One+Tag@Example.COM"), "fan.one+tag@example.com");
    EXPECT_EQ(normalize_email("a@b.co"), "a@b.co");
}

TEST(EmailRules, RejectsMalformedAddresses) {
    for (const std::string_view bad :
         {"", "no-at.example.com", "a@@b.com", "a@b@c.com", "@example.com", "a@example", "a@.example.com",
          "a@example.com.", "a@exa..mple.com", "a b@example.com", " a@example.com", "a@example.com\n",
          "ü@example.com"}) {
        expect_invalid("email", [&] { (void)normalize_email(bad); });
    }
    expect_invalid("email", [] { (void)normalize_email(std::string(65, 'a') + "@example.com"); });
    expect_invalid("email", [] { (void)normalize_email("a@" + std::string(250, 'b') + ".com"); });
}

TEST(PasswordRules, AcceptsTenCharactersOfTwoClasses) {
    EXPECT_NO_THROW(check_password("abcdefghi1"));
    EXPECT_NO_THROW(check_password("correct horse battery"));
    EXPECT_NO_THROW(check_password("비밀번호비밀번호abc"));
}

TEST(PasswordRules, RejectsShortLongOneClassAndControlCharacters) {
    expect_invalid("password", [] { check_password("Ab1!Ab1!a"); });                  // 9 characters
    expect_invalid("password", [] { check_password("abcdefghijkl"); });               // lower only
    expect_invalid("password", [] { check_password("12345678901234"); });             // digits only
    expect_invalid("password", [] { check_password(std::string(129, 'a') + "1"); });  // > 128 bytes
    expect_invalid("password", [] { check_password(std::string("abcdefghi1\0", 11)); });
    EXPECT_NO_THROW(check_password(std::string(127, 'a') + "1"));  // exactly 128 bytes
}

TEST(PasswordRules, CountsCharactersNotBytesForTheMinimum) {
    expect_invalid("password", [] { check_password("비밀번호1234a"); });  // 9 characters, 17 bytes
}

TEST(DisplayNameRules, TrimsAndBoundsTheLength) {
    EXPECT_EQ(normalize_display_name("  Kim Fan "), "Kim Fan");
    EXPECT_EQ(normalize_display_name(std::string(50, 'x')), std::string(50, 'x'));
    std::string korean;
    for (int i = 0; i < 50; ++i) korean += "가";
    EXPECT_EQ(normalize_display_name(korean), korean);  // 50 characters, 150 bytes
    expect_invalid("displayName", [] { (void)normalize_display_name("   "); });
    expect_invalid("displayName", [] { (void)normalize_display_name(std::string(51, 'x')); });
    expect_invalid("displayName", [] { (void)normalize_display_name("tab\there"); });
}

TEST(RequestBodies, SignupReadsTheThreeStringFieldsAsSent) {
    const auto request = signup_request_from(boost::json::object{
        {"email", " Fan@X.io"}, {"password", "pw"}, {"displayName", " K "}, {"role", "admin"}});
    EXPECT_EQ(request.email, " Fan@X.io");
    EXPECT_EQ(request.password, "pw");
    EXPECT_EQ(request.display_name, " K ");
}

TEST(RequestBodies, NamesTheFirstFieldThatIsMissingOrNotAString) {
    expect_invalid("email", [] { (void)signup_request_from(boost::json::object{}); });
    expect_invalid("password", [] {
        (void)signup_request_from(boost::json::object{{"email", "a@b.io"}, {"password", 1}});
    });
    expect_invalid("displayName", [] {
        (void)signup_request_from(
            boost::json::object{{"email", "a@b.io"}, {"password", "p"}, {"displayName", nullptr}});
    });
    expect_invalid("password", [] {
        (void)login_request_from(boost::json::object{{"email", "a@b.io"}, {"password", true}});
    });
    expect_invalid("email", [] {
        (void)login_request_from(boost::json::object{{"email", boost::json::array{}}});
    });
    expect_invalid("refreshToken", [] { (void)refresh_token_from(boost::json::object{{"token", "t"}}); });
    expect_invalid("refreshToken", [] {
        (void)refresh_token_from(boost::json::object{{"refreshToken", boost::json::object{}}});
    });
}

TEST(RequestBodies, LoginAndRefreshReadTheirStrings) {
    const auto login = login_request_from(boost::json::object{{"email", "a@b.io"}, {"password", "pw"}});
    EXPECT_EQ(login.email, "a@b.io");
    EXPECT_EQ(login.password, "pw");
    EXPECT_EQ(refresh_token_from(boost::json::object{{"refreshToken", "r.t"}}), "r.t");
}

}  // namespace
}  // namespace marquee::auth
