// The one translation unit that compiles Asio, Beast and their OpenSSL glue; every other
// file includes only their headers (BOOST_*_SEPARATE_COMPILATION).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
