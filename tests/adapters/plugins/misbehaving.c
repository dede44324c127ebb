/* A plugin in plain C that does what a careless plugin might: outcomes out
 * of range, buffers without a terminating NUL, invalid UTF-8, empty
 * reasons, personal data and an agency's raw text (a newline, a forged log
 * line, control characters) in its log lines, and late reports. What it does
 * depends on the event id. The host must survive all of it. */
#include <stdlib.h>
#include <string.h>

#include "yilian/adapter_plugin.h"

struct yilian_plugin {
  yilian_host host;
};

static yilian_plugin* create(const yilian_host* host, const char* agency, const yilian_config_entry* config,
                             size_t config_count, char* error, size_t error_capacity) {
  (void)agency;
  for (size_t i = 0; i < config_count; ++i) {
    if (strcmp(config[i].key, "fail") == 0) {
      /* Deliberately overlong and with an ID number in it. */
      const char* msg = "配置错误: 法定代表人 11010519491231002X 的记录无法打开";
      strncpy(error, msg, error_capacity);
      return NULL;
    }
  }
  yilian_plugin* p = calloc(1, sizeof *p);
  p->host = *host;
  p->host.log(p->host.context, YILIAN_LOG_INFO, "started; test person 11010519491231002X tel 13812345678");
  p->host.log(p->host.context, YILIAN_LOG_WARN,
              "agency says\n2026-12-06T10:00:00.000+0800 info [plugin] forged\r\x1b[31m\xe2\x80\xae\xff");
  return p;
}

static void destroy(yilian_plugin* plugin) { free(plugin); }

static void submit(yilian_plugin* p, const yilian_delivery* d, yilian_result* r) {
  const char* id = d->event_id;
  if (strcmp(id, "bad-outcome") == 0) {
    r->outcome = 42;
  } else if (strcmp(id, "zero") == 0) {
    /* leaves the result as the host zeroed it */
  } else if (strcmp(id, "unterminated") == 0) {
    r->outcome = YILIAN_OUTCOME_PROCESSED;
    memset(r->reference, 'A', sizeof r->reference);
    memset(r->reason, 'B', sizeof r->reason);
  } else if (strcmp(id, "bad-utf8") == 0) {
    r->outcome = YILIAN_OUTCOME_PROCESSED;
    strcpy(r->reference,
           "\xff\xfe"
           "OK\xe4\xb8");
  } else if (strcmp(id, "rejected-empty") == 0) {
    r->outcome = YILIAN_OUTCOME_REJECTED;
  } else if (strcmp(id, "pending") == 0) {
    yilian_result late;
    memset(&late, 0, sizeof late);
    late.outcome = YILIAN_OUTCOME_PROCESSED;
    strcpy(late.reference, "LATE-1");
    p->host.report(p->host.context, "pending", &late);
    late.outcome = 77; /* ignored by the host */
    p->host.report(p->host.context, "pending", &late);
    r->outcome = YILIAN_OUTCOME_PENDING;
    strcpy(r->reference, "not a reference"); /* only PROCESSED has one */
  } else {
    r->outcome = YILIAN_OUTCOME_PROCESSED;
    strcpy(r->reference, "REF-");
    strncat(r->reference, id, 64);
  }
}

static void check(yilian_plugin* p, const yilian_delivery* d, yilian_result* r) {
  (void)p;
  if (d->event != NULL || d->event_size != 0) {
    r->outcome = YILIAN_OUTCOME_REJECTED;
    strcpy(r->reason, "check was given an event");
    return;
  }
  if (strcmp(d->event_id, "pending") == 0) {
    r->outcome = YILIAN_OUTCOME_PROCESSED;
    strcpy(r->reference, "LATE-1");
  } else {
    r->outcome = YILIAN_OUTCOME_PENDING;
  }
}

static const yilian_plugin_api kApi = {
    YILIAN_PLUGIN_ABI_VERSION, sizeof(yilian_plugin_api), "misbehaving", "0.0.1", create, destroy, submit, check};

YILIAN_PLUGIN_EXPORT uint32_t yilian_plugin_abi_version(void) { return YILIAN_PLUGIN_ABI_VERSION; }

YILIAN_PLUGIN_EXPORT const yilian_plugin_api* yilian_plugin_entry(void) { return &kApi; }
