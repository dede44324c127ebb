// The exchange database layout (前置库): two tables per agency, one written
// by the platform side (the adapter's plugin) and read by the agency, one
// written by the agency and read by the platform side. docs/plugins.md
// documents it for the agencies. The SQL is plain enough for SQLite,
// PostgreSQL, MySQL and the PostgreSQL-compatible engines of government data
// centres. Pure functions.
#pragma once

#include <string>

namespace yilian::sink {

struct ExchangeTables {
  std::string push = "yl_push";        // platform -> agency
  std::string receipt = "yl_receipt";  // agency -> platform
};

// CREATE TABLE IF NOT EXISTS statements for both tables.
std::string CreateExchangeTablesSql(const ExchangeTables& tables);

}  // namespace yilian::sink
