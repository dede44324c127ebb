/*
 * yilian agency plugin ABI, version 1.
 *
 * The contract between the adapter host `yilian-adapter` and an agency
 * plugin: a shared object that turns enterprise events into an agency's own
 * records and the agency's answers into results. docs/plugins.md is the
 * full contract; this header is its C form. Plain C99, so a plugin can be
 * written in any language that can export C functions.
 *
 * Ownership: every pointer the host passes is valid only for the duration
 * of the call (copy what you keep); the plugin owns its handle until
 * `destroy`. Strings are NUL-terminated UTF-8.
 *
 * Threads: the host calls create, submit, check and destroy from one thread
 * at a time (never concurrently), so a plugin needs no locking for them.
 * The host functions `log` and `report` may be called from any thread,
 * between the return of `create` and the call of `destroy`.
 *
 * Errors: nothing may unwind across this boundary. A C++ plugin catches
 * every exception and turns it into a RETRY or REJECTED result (the C++
 * plugin SDK in adapters/plugin_sdk does this for you).
 */
#ifndef YILIAN_ADAPTER_PLUGIN_H_
#define YILIAN_ADAPTER_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Checked at load: the host refuses a plugin whose
 * yilian_plugin_abi_version() differs from its own. */
#define YILIAN_PLUGIN_ABI_VERSION 1u

#if defined(__GNUC__) || defined(__clang__)
#define YILIAN_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define YILIAN_PLUGIN_EXPORT
#endif

/* Buffer sizes in yilian_result, including the terminating NUL. The
 * broker stores at most 256 bytes of a reference and 1024 of a reason. */
#define YILIAN_REFERENCE_CAPACITY 257
#define YILIAN_REASON_CAPACITY 1025

/* What the agency did with an event. The numbers match yilian.v1.Outcome;
 * PENDING is what the broker calls OUTCOME_ACCEPTED. */
typedef enum yilian_outcome {
  /* The agency has the event and will answer later: the host keeps the
   * event id durably and asks `check` (or waits for `report`). */
  YILIAN_OUTCOME_PENDING = 1,
  /* Final: the agency processed it; `reference` is its reference (unit
   * number, account number, confirmation number). */
  YILIAN_OUTCOME_PROCESSED = 2,
  /* Final: the agency refused it; `reason` says why, for a person. */
  YILIAN_OUTCOME_REJECTED = 3,
  /* Transient failure (agency unreachable, outage): the broker delivers the
   * event again, not before `retry_after_ms`. */
  YILIAN_OUTCOME_RETRY = 4
} yilian_outcome;

/* A result, filled in by the plugin into memory the host owns. The host
 * zeroes it before each call; a plugin that leaves `outcome` at 0 (or sets
 * an unknown value) gets its call treated as RETRY with a logged error.
 * Longer texts are cut at a UTF-8 character boundary by the host. */
typedef struct yilian_result {
  int32_t outcome;         /* a yilian_outcome */
  uint32_t retry_after_ms; /* RETRY: least delay before the next attempt */
  char reference[YILIAN_REFERENCE_CAPACITY];
  char reason[YILIAN_REASON_CAPACITY];
} yilian_result;

/* One delivery of one event to this agency. */
typedef struct yilian_delivery {
  const char* event_id; /* the platform's unique event id: the idempotency key */
  const char* agency;   /* e.g. "tax", "bank:ICBC" */
  const char* uscc;     /* the enterprise's unified social credit code */
  uint32_t attempt;     /* 1 for the first hand-over, > 1 for redeliveries */
  uint64_t sequence;    /* the broker's sequence number of the event */
  /* submit: the event, serialized as yilian.v1.EnterpriseEvent
   * (schemas/yilian/v1/event.proto, binary). check: NULL and 0. */
  const uint8_t* event;
  size_t event_size;
} yilian_delivery;

/* One configuration entry: the `plugin:` section of the adapter's config
 * file, flattened to dotted keys ("sink.type" = "exchange-db"). */
typedef struct yilian_config_entry {
  const char* key;
  const char* value;
} yilian_config_entry;

typedef enum yilian_log_level {
  YILIAN_LOG_DEBUG = 0,
  YILIAN_LOG_INFO = 1,
  YILIAN_LOG_WARN = 2,
  YILIAN_LOG_ERROR = 3
} yilian_log_level;

/* What the host offers the plugin. Valid from create until destroy. */
typedef struct yilian_host {
  uint32_t abi_version; /* YILIAN_PLUGIN_ABI_VERSION of the host */
  void* context;        /* pass back unchanged */
  /* Writes a line to the host's log under the plugin's name. The plugin
   * must not put personal data (ID numbers, phone numbers) in it; the host
   * scrubs what looks like one as a second line of defence. */
  void (*log)(void* context, int32_t level, const char* message);
  /* Reports the answer for an event the plugin earlier answered PENDING,
   * as soon as it is known (e.g. an agency's callback arrived). Optional:
   * the host also asks `check`, which must be able to give the same answer,
   * so a report lost in a crash costs only time. The host copies the
   * arguments. Reports for unknown events and PENDING reports are ignored. */
  void (*report)(void* context, const char* event_id, const yilian_result* result);
} yilian_host;

/* The plugin's state: defined by the plugin, opaque to the host. */
typedef struct yilian_plugin yilian_plugin;

typedef struct yilian_plugin_api {
  uint32_t abi_version; /* must equal YILIAN_PLUGIN_ABI_VERSION */
  uint32_t struct_size; /* sizeof(yilian_plugin_api) the plugin was built with */
  const char* name;     /* e.g. "tax" */
  const char* version;  /* the plugin's own version, for logs */

  /* Creates an instance for `agency` with its configuration. On failure
   * returns NULL and writes a message (NUL-terminated, cut to
   * error_capacity) into `error`: unknown or missing keys, a value out of
   * range, an agency system that cannot be opened. */
  yilian_plugin* (*create)(const yilian_host* host, const char* agency, const yilian_config_entry* config,
                           size_t config_count, char* error, size_t error_capacity);

  /* Releases everything. No host function may be called after it returns. */
  void (*destroy)(yilian_plugin* plugin);

  /* Hands one event to the agency and fills `result`. Must be idempotent
   * by event id: a second submit of the same event (a redelivery) must not
   * create a second record at the agency; it answers with what the agency
   * has (PENDING, or its final answer). May block (the host keeps its
   * broker session alive meanwhile), but not forever: use timeouts. */
  void (*submit)(yilian_plugin* plugin, const yilian_delivery* delivery, yilian_result* result);

  /* Asks for the answer to an event earlier answered PENDING, possibly
   * after a restart of the host. PENDING: still working. RETRY: the agency
   * does not have the event (it is delivered and submitted again). */
  void (*check)(yilian_plugin* plugin, const yilian_delivery* delivery, yilian_result* result);
} yilian_plugin_api;

/* The two symbols every plugin exports. The host calls the first, compares
 * it with its own ABI version, and only then calls the second. */
typedef uint32_t (*yilian_plugin_abi_version_fn)(void);
typedef const yilian_plugin_api* (*yilian_plugin_entry_fn)(void);
#define YILIAN_PLUGIN_ABI_VERSION_SYMBOL "yilian_plugin_abi_version"
#define YILIAN_PLUGIN_ENTRY_SYMBOL "yilian_plugin_entry"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* YILIAN_ADAPTER_PLUGIN_H_ */
