// Boost.Asio compiled once for the whole binary (BOOST_ASIO_SEPARATE_COMPILATION is a PUBLIC definition of
// marquee::asio): every other translation unit includes only declarations, which saves ~20 s of compile per
// file.
#include <boost/asio/impl/src.hpp>
