// Postgres connection strings (DSNs) as the Postgres engine handles them: both libpq forms, the
// URI (`postgresql://user:secret@host:5432/db?sslmode=require`) and key=value
// (`host=db user=boomer password=secret`). The password must never reach a log or an exception
// message, so everything that prints a DSN or a libpq message goes through here first.
//
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace boomer::store {

// is_postgres_uri tells whether `dsn` is a Postgres URI: it starts with "postgresql://" or
// "postgres://" (the forms `--db` accepts).
bool is_postgres_uri(std::string_view dsn);

// redact_dsn returns `dsn` with every password replaced by "***": the password of a URI's user
// info, and `password` / `sslpassword` values in a URI query or in key=value form. A key=value
// string that cannot be parsed comes back as "(unparsable connection string)", since what is a
// password there cannot be told apart. Safe to log.
std::string redact_dsn(std::string_view dsn);

// scrub_secrets returns `message` (typically a libpq error) with each password of `dsn`, in the
// form written and percent-decoded, replaced by "***", and the DSN itself by its redacted form.
// When `dsn` is an unparsable key=value string that mentions a password, the whole message is
// replaced by a fixed sentence, because libpq quotes fragments of such strings.
std::string scrub_secrets(std::string_view message, std::string_view dsn);

// dsn_has_param tells whether `dsn` sets the libpq parameter `key` (URI query or key=value).
bool dsn_has_param(std::string_view dsn, std::string_view key);

// with_dsn_param returns `dsn` with `key` set to `value` appended (as a URI query parameter or a
// quoted key=value pair). Preconditions: `key` is a plain libpq parameter name and the DSN does
// not set it already (see dsn_has_param).
std::string with_dsn_param(std::string_view dsn, std::string_view key, std::string_view value);

}  // namespace boomer::store
