#ifndef MOPAY_TEST_UPGRADE_STORY_H
#define MOPAY_TEST_UPGRADE_STORY_H

/* The upgrade fixture's story (story.c): its state, its clients' calls, its chapters
 * (story_chapters.c) and the recording of what the check must see again (story_record.c). */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "upgrade.h"

#define PIN "123456"

extern struct server srv;  /* the wave-1 server: its port and first admin key */
extern int64_t clock_s;    /* its manual clock, as the story moved it */
extern json_t *fixture;    /* what the clients keep, written to fixture.json */
extern const char *mopay_bin;
extern int webhook_port;   /* where the merchant's webhook receiver would be: nothing listens */

/* One request as `as` (a principal's label; NULL: anonymous); with an Idempotency-Key `key`, the
 * exchange is kept among the fixture's replays. Returns the status; *out takes the answer's JSON. */
long exchange(const char *method, const char *path, const char *as, const char *key, const char *body,
              json_t **out);
/* exchange() that must answer `status`, its body formatted; returns the answer's JSON (the caller's). */
json_t *sendf(const char *method, const char *path, const char *as, const char *key, long status, const char *fmt,
              ...);
json_t *principals(void);
/* A string field of a principal; fails when absent. */
const char *field(const char *as, const char *name);
void clock_advance(int64_t seconds);

void customer_new(const char *label, const char *phone, const char *name, const char *country, const char *key);
/* Opens a wallet and keeps its id in the principal under `name`. */
void wallet_open(const char *label, const char *currency, const char *name);
void source_add(const char *label, const char *body, char *id);
void shop_new(const char *label, const char *path, const char *name, const char *mcc, const char *country,
              const char *city, const char *currency, const char *webhook_url);
void with_pin(const char *body, char *out, size_t cap);
json_t *outflow(const char *path, const char *as, const char *key, const char *body);
json_t *pay(const char *as, const char *payer, const char *key, const char *body, bool confirm);
json_t *order_new(const char *shop, const char *key, const char *fmt, ...);

/* story_chapters.c, in the order the story plays them */
void chapter_webhook_dies(void);
void chapter_demo(void);
void chapter_operators(void);
void chapter_shops(void);
void chapter_customers(void);
void chapter_offers(void);
void chapter_hook_payments(void);
void chapter_travel(void);
void chapter_bills(void);
void chapter_transfers(void);
void chapter_risk(void);
void chapter_waiting_payment(void);

/* story_record.c */
void record_run(const char *fixture_path, const char *records_path, const char *expected_path);

#endif
