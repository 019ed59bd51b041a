#ifndef MOPAY_TEST_RECEIVER_H
#define MOPAY_TEST_RECEIVER_H

/* A webhook receiver for tests: one thread, one blocking loopback socket, HTTP/1.1, one request
 * per connection. It records each request and answers with the status the test sets; stopped,
 * its port refuses connections, and it can start again on the same port. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RX_MAX 512
#define RX_BUF_BYTES (16 * 1024)

struct rx_request {
    char request_line[128];
    char event_id[64], signature[160], content_type[64];
    char body[RX_BUF_BYTES];
    size_t body_len;
    int answered;
};

/* Listens on 127.0.0.1:port (0: any free port, remembered for a restart). */
void rx_start(uint16_t port);
/* Stops listening: connections are then refused. */
void rx_stop(void);
uint16_t rx_port(void);
/* The status the next requests get (200 at first). */
void rx_answer(int status);
/* On: each request is recorded (rx_count counts it) and then waits for its answer until hold is
 * turned off (or the receiver stops): the sender's request stays in flight meanwhile. */
void rx_hold(bool hold);
size_t rx_count(void);
/* Forgets what was received. */
void rx_clear(void);
/* The i-th request received (i < rx_count()). */
const struct rx_request *rx_request_at(size_t i);

#endif
