// The serving layer's names for the HTTP server core, which lives in net/http_server.h (cl_net,
// shared with the replay exchange): the contract is there; these are the same types.
#pragma once

#include "net/http_server.h"
#include "serve/metrics.h"

namespace cryptolake::serve {

using net::AppendJsonString;
using net::EventSink;
using net::Handler;
using net::HttpServer;
using net::InternalError;
using net::JsonError;
using net::Request;
using net::Response;
using net::Router;
using net::ServerOptions;
using net::StreamHandler;
using net::StreamReply;
using net::WantsCsv;

}  // namespace cryptolake::serve
