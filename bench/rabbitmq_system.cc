#include "rabbitmq_system.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <poll.h>

#include <cstdlib>
#include <fstream>
#include <map>

namespace yilian::bench {
namespace {

constexpr amqp_channel_t kChannel = 1;
const char* const kExchange = "ylbench.events";
constexpr int kMaxAgencies = 64;

// Waits up to timeout_ms for input on the connection. librabbitmq's own
// timeouts round the remaining time down to whole milliseconds and then
// spin with poll(0) for the rest, so a short wait is done here instead.
bool WaitReadable(amqp_connection_state_t conn, int timeout_ms) {
  if (amqp_data_in_buffer(conn) || amqp_frames_enqueued(conn)) return true;
  pollfd p{amqp_get_sockfd(conn), POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

std::string QueueName(int agency) { return "ylbench.agency" + std::to_string(agency); }

amqp_bytes_t Bytes(std::string_view s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string ReplyError(const amqp_rpc_reply_t& r, const std::string& what) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_NONE:
      return what + ": missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return what + ": " + amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD || r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        auto* m = static_cast<amqp_channel_close_t*>(r.reply.decoded);
        return what + ": server closed the " +
               (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD ? std::string("connection") : std::string("channel")) +
               " (" + std::to_string(m->reply_code) + " " +
               std::string(static_cast<char*>(m->reply_text.bytes), m->reply_text.len) + ")";
      }
      return what + ": server exception";
  }
  return what + ": unknown reply";
}

// One AMQP connection with channel 1 open.
class Connection {
 public:
  Connection() : conn_(amqp_new_connection()) {}
  ~Connection() {
    if (open_) {
      amqp_channel_close(conn_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Status Open(int port) {
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (!socket) return Status::Internal("amqp_tcp_socket_new failed");
    int rc = amqp_socket_open(socket, "127.0.0.1", port);
    if (rc != AMQP_STATUS_OK)
      return Status::Unavailable("cannot connect to RabbitMQ on 127.0.0.1:" + std::to_string(port) + ": " +
                                 amqp_error_string2(rc));
    Status s = Check(amqp_login(conn_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    if (!s.ok()) return s;
    open_ = true;
    return OpenChannel();
  }

  Status OpenChannel() {
    amqp_channel_open(conn_, kChannel);
    return Check(amqp_get_rpc_reply(conn_), "channel.open");
  }

  // Checks the reply of the last synchronous call.
  Status Check(const std::string& what) { return Check(amqp_get_rpc_reply(conn_), what); }
  static Status Check(const amqp_rpc_reply_t& r, const std::string& what) {
    std::string e = ReplyError(r, what);
    return e.empty() ? Status::Ok() : Status::Unavailable(e);
  }

  amqp_connection_state_t get() { return conn_; }

 private:
  amqp_connection_state_t conn_;
  bool open_ = false;
};

class RabbitPublisher : public Publisher {
 public:
  RabbitPublisher(const Workload& w, bool persistent) : workload_(w), persistent_(persistent) {}

  Status Open(int port) {
    Status s = conn_.Open(port);
    if (!s.ok()) return s;
    amqp_confirm_select(conn_.get(), kChannel);
    return conn_.Check("confirm.select");
  }

  Status Send(std::size_t index) override {
    const WorkloadEvent& e = workload_.at(index);
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = persistent_ ? 2 : 1;
    props.message_id = Bytes(e.id);
    props.content_type = amqp_cstring_bytes("application/x-protobuf");
    int rc = amqp_basic_publish(conn_.get(), kChannel, amqp_cstring_bytes(kExchange), amqp_empty_bytes, 0, 0, &props,
                                Bytes(e.payload));
    if (rc != AMQP_STATUS_OK) return Status::Unavailable(std::string("basic.publish: ") + amqp_error_string2(rc));
    pending_.emplace(++next_tag_, index);
    return Status::Ok();
  }

  Status Poll(int timeout_ms, const ConfirmFn& on_confirm) override {
    if (!WaitReadable(conn_.get(), timeout_ms)) return Status::Ok();
    timeval tv{0, 0};
    amqp_frame_t frame;
    for (;;) {
      amqp_maybe_release_buffers(conn_.get());
      int rc = amqp_simple_wait_frame_noblock(conn_.get(), &frame, &tv);
      if (rc == AMQP_STATUS_TIMEOUT) return Status::Ok();
      if (rc != AMQP_STATUS_OK) return Status::Unavailable(std::string("reading confirms: ") + amqp_error_string2(rc));
      bool more = amqp_data_in_buffer(conn_.get()) || amqp_frames_enqueued(conn_.get());
      HandleFrame(frame, on_confirm);
      if (closed_) return Status::Unavailable("RabbitMQ closed the publisher's channel");
      if (!more) return Status::Ok();
    }
  }

 private:
  void HandleFrame(const amqp_frame_t& frame, const ConfirmFn& on_confirm) {
    if (frame.frame_type != AMQP_FRAME_METHOD) return;
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      Settle(ack->delivery_tag, ack->multiple, true, on_confirm);
    } else if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      Settle(nack->delivery_tag, nack->multiple, false, on_confirm);
    } else if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
               frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
      closed_ = true;
    }
  }

  void Settle(std::uint64_t tag, bool multiple, bool ok, const ConfirmFn& on_confirm) {
    if (multiple) {
      while (!pending_.empty() && pending_.begin()->first <= tag) {
        on_confirm(pending_.begin()->second, ok);
        pending_.erase(pending_.begin());
      }
    } else if (auto it = pending_.find(tag); it != pending_.end()) {
      on_confirm(it->second, ok);
      pending_.erase(it);
    }
  }

  const Workload& workload_;
  bool persistent_;
  Connection conn_;
  std::uint64_t next_tag_ = 0;
  std::map<std::uint64_t, std::size_t> pending_;  // delivery tag -> workload index
  bool closed_ = false;
};

class RabbitConsumer : public Consumer {
 public:
  Status Open(int port, int agency, int prefetch) {
    Status s = conn_.Open(port);
    if (!s.ok()) return s;
    amqp_basic_qos(conn_.get(), kChannel, 0, static_cast<std::uint16_t>(std::min(prefetch, 65535)), 0);
    s = conn_.Check("basic.qos");
    if (!s.ok()) return s;
    std::string queue = QueueName(agency);
    amqp_basic_consume(conn_.get(), kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    return conn_.Check("basic.consume");
  }

  Status Poll(int timeout_ms, const Callbacks& cb) override {
    if (!WaitReadable(conn_.get(), timeout_ms)) return Status::Ok();
    timeval tv{0, 0};
    for (;;) {
      amqp_maybe_release_buffers(conn_.get());
      amqp_envelope_t envelope;
      amqp_rpc_reply_t r = amqp_consume_message(conn_.get(), &envelope, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
        return Status::Ok();
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
        // A frame other than a delivery (e.g. a channel close): read it.
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(conn_.get(), &frame) != AMQP_STATUS_OK ||
            (frame.frame_type == AMQP_FRAME_METHOD && (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                                                       frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)))
          return Status::Unavailable("RabbitMQ closed the consumer's channel");
        continue;
      }
      if (r.reply_type != AMQP_RESPONSE_NORMAL) return Connection::Check(r, "basic.consume");
      bool more = amqp_data_in_buffer(conn_.get()) || amqp_frames_enqueued(conn_.get());
      int rc = amqp_basic_ack(conn_.get(), kChannel, envelope.delivery_tag, 0);
      std::string_view id(static_cast<char*>(envelope.message.properties.message_id.bytes),
                          envelope.message.properties.message_id.len);
      if (rc != AMQP_STATUS_OK) {
        amqp_destroy_envelope(&envelope);
        return Status::Unavailable(std::string("basic.ack: ") + amqp_error_string2(rc));
      }
      cb.acked(id);
      amqp_destroy_envelope(&envelope);
      // Read on only what has already arrived: one more recv() per message
      // just to learn that nothing is there would double the system calls.
      if (!more) return Status::Ok();
    }
  }

 private:
  Connection conn_;
};

}  // namespace

std::string RabbitMQSystem::durability() const {
  if (options_.quorum)
    return "persistent messages to durable quorum queues (x-queue-type=quorum), replicated by Raft to every node of "
           "the cluster; the confirm follows the write and fsync of the message by a majority of the queue's "
           "replicas (each replica's Ra write-ahead log fsyncs a batch before the entries count as written); survives a process crash and a power loss of a minority of the nodes; consumer acks are "
           "replicated but neither answered nor waited for";
  if (options_.persistent)
    return "persistent messages (delivery_mode 2) to durable classic queues; the confirm follows the fsync of "
           "every queue's write (RabbitMQ batches fsyncs); survives a process crash and a power loss; consumer "
           "acks are neither answered nor fsynced";
  return "transient messages (delivery_mode 1) to durable classic queues; confirmed once enqueued in memory, no "
         "fsync; lost on a broker restart or crash";
}

std::string RabbitMQSystem::versions() const {
  return "rabbitmq-server " + (server_version_.empty() ? std::string("?") : server_version_) + ", rabbitmq-c " +
         RABBITMQ_C_VERSION;
}

Status RabbitMQSystem::ReadPid() {
  std::ifstream in(options_.pid_file);
  long pid = -1;
  if (!(in >> pid) || pid <= 0) return Status::NotFound("no pid in " + options_.pid_file);
  pid_ = static_cast<pid_t>(pid);
  return Status::Ok();
}

Status RabbitMQSystem::Prepare(const Topology& topology, const Workload& workload) {
  topology_ = topology;
  workload_ = &workload;
  Status s = ReadPid();
  if (!s.ok()) return s;
  Connection admin;
  s = admin.Open(options_.port);
  if (!s.ok()) return s;
  if (const amqp_table_t* props = amqp_get_server_properties(admin.get())) {
    for (int i = 0; i < props->num_entries; ++i) {
      const amqp_table_entry_t& e = props->entries[i];
      if (std::string_view(static_cast<char*>(e.key.bytes), e.key.len) == "version" &&
          (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES))
        server_version_.assign(static_cast<char*>(e.value.value.bytes.bytes), e.value.value.bytes.len);
    }
  }
  // Start empty: drop what earlier runs left (deleting a missing queue or
  // exchange is not an error in RabbitMQ 3.10).
  for (int a = 0; a < kMaxAgencies; ++a) {
    std::string q = QueueName(a);
    amqp_queue_delete(admin.get(), kChannel, amqp_cstring_bytes(q.c_str()), 0, 0);
    if (!(s = admin.Check("queue.delete " + q)).ok()) return s;
  }
  amqp_exchange_delete(admin.get(), kChannel, amqp_cstring_bytes(kExchange), 0);
  if (!(s = admin.Check("exchange.delete")).ok()) return s;
  amqp_exchange_declare(admin.get(), kChannel, amqp_cstring_bytes(kExchange), amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                        amqp_empty_table);
  if (!(s = admin.Check("exchange.declare")).ok()) return s;
  amqp_table_entry_t quorum_arg;
  quorum_arg.key = amqp_cstring_bytes("x-queue-type");
  quorum_arg.value.kind = AMQP_FIELD_KIND_UTF8;
  quorum_arg.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t queue_args = options_.quorum ? amqp_table_t{1, &quorum_arg} : amqp_empty_table;
  for (int a = 0; a < topology.agencies; ++a) {
    std::string q = QueueName(a);
    amqp_queue_declare(admin.get(), kChannel, amqp_cstring_bytes(q.c_str()), 0, 1, 0, 0, queue_args);
    if (!(s = admin.Check("queue.declare " + q)).ok()) return s;
    amqp_queue_bind(admin.get(), kChannel, amqp_cstring_bytes(q.c_str()), amqp_cstring_bytes(kExchange),
                    amqp_empty_bytes, amqp_empty_table);
    if (!(s = admin.Check("queue.bind " + q)).ok()) return s;
  }
  return Status::Ok();
}

Status RabbitMQSystem::Stop() {
  if (options_.control.empty()) return Status::FailedPrecondition("no --server-ctl: cannot restart RabbitMQ");
  if (std::system((options_.control + " stop").c_str()) != 0) return Status::Unavailable("stopping RabbitMQ failed");
  pid_ = -1;
  return Status::Ok();
}

Status RabbitMQSystem::Start() {
  if (options_.control.empty()) return Status::FailedPrecondition("no --server-ctl: cannot restart RabbitMQ");
  if (std::system((options_.control + " start").c_str()) != 0) return Status::Unavailable("starting RabbitMQ failed");
  return ReadPid();
}

void RabbitMQSystem::Finish() {
  Connection admin;
  if (!admin.Open(options_.port).ok()) return;
  for (int a = 0; a < topology_.agencies; ++a) {
    std::string q = QueueName(a);
    amqp_queue_delete(admin.get(), kChannel, amqp_cstring_bytes(q.c_str()), 0, 0);
    if (!admin.Check("queue.delete").ok()) return;
  }
  amqp_exchange_delete(admin.get(), kChannel, amqp_cstring_bytes(kExchange), 0);
}

Result<std::unique_ptr<Publisher>> RabbitMQSystem::NewPublisher() {
  auto p = std::make_unique<RabbitPublisher>(*workload_, options_.persistent);
  Status s = p->Open(options_.port);
  if (!s.ok()) return s;
  return std::unique_ptr<Publisher>(std::move(p));
}

Result<std::unique_ptr<Consumer>> RabbitMQSystem::NewConsumer(int agency) {
  auto c = std::make_unique<RabbitConsumer>();
  // After a restart the server may still be recovering: retry for a while.
  Status s;
  for (int attempt = 0; attempt < 6000; ++attempt) {
    s = c->Open(options_.port, agency, topology_.consumer_window);
    if (s.ok()) return std::unique_ptr<Consumer>(std::move(c));
    c = std::make_unique<RabbitConsumer>();
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
  return s;
}

}  // namespace yilian::bench
