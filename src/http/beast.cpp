// Boost.Beast compiled once (BOOST_BEAST_SEPARATE_COMPILATION is a PUBLIC definition of marquee::http).
// Beast is included only by src/http/*.cpp; business code sees Context and Response.
#include <boost/beast/src.hpp>
