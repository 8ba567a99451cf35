#include "db/server_error.hpp"

namespace marquee::db {

ServerFault classify_sqlstate(std::string_view sqlstate) noexcept {
    if (sqlstate.size() != 5) return ServerFault::None;
    const std::string_view klass = sqlstate.substr(0, 2);
    if (klass == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
        sqlstate == "25006") {
        return ServerFault::ConnectionLost;
    }
    if (klass == "53" || sqlstate == "57014") return ServerFault::Busy;
    return ServerFault::None;
}

}  // namespace marquee::db
