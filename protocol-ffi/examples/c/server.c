/*
 * A Socket.IO server in C: libwebsockets does the IO (HTTP long-polling and WebSocket on one
 * port, path /socket.io/), the sio-ffi C API does every bit of the protocol.
 *
 *   server <port> [<ping interval ms> <ping timeout ms>]
 *                        prints "LISTENING <port>" once it accepts connections;
 *                        SIGINT/SIGTERM shut it down cleanly (exit 0).
 *
 * The application (namespaces "/", "/custom" and "/admin", which wants auth {"token":"secret"}):
 *   echo ...args            -> emits "echo" back to the sender with the same args (binary too)
 *   ack-echo ...args, cb    -> acknowledges with the same args
 *   join room, cb / leave room, cb -> joins / leaves the room, acknowledges with [room]
 *   to-room room, ...args   -> emits "to-room" with the same args to the room, sender excluded
 *   broadcast ...args       -> emits "broadcast" with the same args to the whole namespace
 *   ask                     -> asks the sender "question" ("what is 6*7?") with an ack and
 *                              emits "answer" with the client's answer (or "timeout")
 *   whoami, cb              -> acknowledges with [socket id, namespace]
 *   disconnect-me           -> disconnects the socket from its namespace
 *
 * Every pointer in a SioServerOutput stays valid until the next sio_server_poll_output, so
 * the handlers pass received arguments and attachments straight back into the API.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sio.h"

#define MAX_QUERY 2048
#define MAX_MESSAGE (2 * 1024 * 1024)

/* ----- connections: one per lws wsi, found by the id the core knows it by ----------------- */

struct frame {
    struct frame *next;
    int binary;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the message */
};

enum conn_kind { CONN_IDLE, CONN_HTTP, CONN_WS };

struct conn {
    struct conn *next;
    struct lws *wsi;
    enum conn_kind kind;
    uint64_t id;              /* the request id (HTTP) or WebSocket id */
    char query[MAX_QUERY];
    uint32_t method;
    unsigned char *body;      /* the POST body being received */
    size_t body_len;
    /* HTTP: the answer, once the core gave it */
    int answered;
    uint16_t status;
    char content_type[64];
    unsigned char *response;  /* LWS_PRE headroom + body */
    size_t response_len;
    /* WebSocket */
    struct frame *head, *tail;
    int close_when_sent;      /* the core closed it: no handle_ws_closed afterwards */
    unsigned char *rx;
    size_t rx_len;
};

struct pss {
    struct conn *c;
};

/* The sockets of the application: their public ids, to address one socket (its own room). */
struct app_socket {
    struct app_socket *next;
    uint64_t id;
    char sid[64];
    char nsp[256];
};

static SioServer *server;
static struct lws_context *context;
static struct conn *conns;
static struct app_socket *sockets;
static uint64_t next_id = 1;
static lws_sorted_usec_list_t timer;
static volatile sig_atomic_t stopping;
static int shutting_down;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void check(SioStatus st, const char *what) {
    if (st != SIO_STATUS_OK)
        fprintf(stderr, "%s: %s (%s)\n", what, sio_status_str(st), sio_server_last_error(server));
}

static struct conn *find_conn(enum conn_kind kind, uint64_t id) {
    for (struct conn *c = conns; c; c = c->next)
        if (c->kind == kind && c->id == id)
            return c;
    return NULL;
}

static struct conn *conn_new(struct lws *wsi) {
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->wsi = wsi;
    c->next = conns;
    conns = c;
    return c;
}

static void free_frames(struct conn *c) {
    while (c->head) {
        struct frame *f = c->head;
        c->head = f->next;
        free(f);
    }
    c->tail = NULL;
}

static void http_reset(struct conn *c) {
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    free(c->response);
    c->response = NULL;
    c->response_len = 0;
    c->answered = 0;
    c->kind = CONN_IDLE;
}

static void conn_free(struct conn *c) {
    for (struct conn **p = &conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    http_reset(c);
    free_frames(c);
    free(c->rx);
    free(c);
}

static struct app_socket *find_socket(uint64_t id) {
    for (struct app_socket *s = sockets; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* ----- the application ------------------------------------------------------------------- */

static SioSlice *slices_of(const SioBytes *atts, size_t n, SioSlice *buf) {
    for (size_t i = 0; i < n; i++) {
        buf[i].ptr = atts[i].ptr;
        buf[i].len = atts[i].len;
    }
    return buf;
}

/* Emit to one socket: a target of its own room. */
static void emit_to(uint64_t socket, const char *event, const uint8_t *args, size_t args_len,
                    const SioSlice *atts, size_t n_atts) {
    struct app_socket *s = find_socket(socket);
    if (!s)
        return;
    const char *rooms[] = {s->sid};
    SioTarget t = {.nsp = s->nsp, .rooms = rooms, .rooms_len = 1};
    check(sio_server_emit(server, now_ms(), &t, event, args, args_len, atts, n_atts, false, NULL),
          "emit");
}

static void on_connect_request(const SioServerOutput *o) {
    uint64_t now = now_ms();
    const char *nsp = (const char *)o->nsp.ptr;
    if (strcmp(nsp, "/admin") == 0 &&
        !(o->has_data && strstr((const char *)o->data.ptr, "\"token\":\"secret\""))) {
        check(sio_server_reject(server, now, o->id, "unauthorized", "{\"code\":401}"), "reject");
        return;
    }
    struct app_socket *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    snprintf(s->nsp, sizeof s->nsp, "%s", nsp);
    /* o is not used after this point: sio_server_socket_sid ends its pointers' validity. */
    if (sio_server_accept(server, now, o->id, &s->id) != SIO_STATUS_OK) {
        free(s);
        return;
    }
    SioBytes sid;
    check(sio_server_socket_sid(server, s->id, &sid), "socket_sid");
    snprintf(s->sid, sizeof s->sid, "%s", (const char *)sid.ptr);
    s->next = sockets;
    sockets = s;
}

static void on_message(const SioServerOutput *o) {
    uint64_t now = now_ms();
    const char *event = (const char *)o->name.ptr;
    SioSlice atts[o->attachments_len + 1];
    slices_of(o->attachments, o->attachments_len, atts);
    struct app_socket *s = find_socket(o->id);
    if (!s)
        return;
    char room[256];

    if (strcmp(event, "echo") == 0) {
        emit_to(o->id, "echo", o->data.ptr, o->data.len, atts, o->attachments_len);
    } else if (strcmp(event, "ack-echo") == 0 && o->has_ack) {
        check(sio_server_ack(server, now, o->id, o->ack, o->data.ptr, o->data.len, atts,
                             o->attachments_len),
              "ack");
    } else if (strcmp(event, "join") == 0 || strcmp(event, "leave") == 0) {
        if (sio_json_arg_string(o->data.ptr, o->data.len, 0, room, sizeof room, NULL) !=
            SIO_STATUS_OK)
            return;
        if (event[0] == 'j')
            check(sio_server_join(server, o->id, room), "join");
        else
            check(sio_server_leave(server, o->id, room), "leave");
        if (o->has_ack)
            check(sio_server_ack(server, now, o->id, o->ack, o->data.ptr, o->data.len, NULL, 0),
                  "ack");
    } else if (strcmp(event, "to-room") == 0) {
        if (sio_json_arg_string(o->data.ptr, o->data.len, 0, room, sizeof room, NULL) !=
            SIO_STATUS_OK)
            return;
        const char *rooms[] = {room};
        uint64_t except[] = {o->id};
        SioTarget t = {.nsp = s->nsp,
                       .rooms = rooms,
                       .rooms_len = 1,
                       .except_sockets = except,
                       .except_sockets_len = 1};
        check(sio_server_emit(server, now, &t, "to-room", o->data.ptr, o->data.len, atts,
                              o->attachments_len, false, NULL),
              "emit to room");
    } else if (strcmp(event, "broadcast") == 0) {
        SioTarget t = {.nsp = s->nsp};
        check(sio_server_emit(server, now, &t, "broadcast", o->data.ptr, o->data.len, atts,
                              o->attachments_len, false, NULL),
              "broadcast");
    } else if (strcmp(event, "ask") == 0) {
        static const char question[] = "[\"what is 6*7?\"]";
        check(sio_server_emit_with_ack(server, now, o->id, "question", (const uint8_t *)question,
                                       strlen(question), NULL, 0, 3000, NULL),
              "emit_with_ack");
    } else if (strcmp(event, "whoami") == 0 && o->has_ack) {
        char json[400];
        int n = snprintf(json, sizeof json, "[\"%s\",\"%s\"]", s->sid, s->nsp);
        check(sio_server_ack(server, now, o->id, o->ack, (const uint8_t *)json, (size_t)n, NULL,
                             0),
              "ack");
    } else if (strcmp(event, "disconnect-me") == 0) {
        check(sio_server_disconnect(server, now, o->id, false), "disconnect");
    }
}

static void on_event(const SioServerOutput *o) {
    switch (o->kind) {
    case SIO_SERVER_OUTPUT_KIND_CONNECT_REQUEST:
        on_connect_request(o);
        break;
    case SIO_SERVER_OUTPUT_KIND_MESSAGE:
        on_message(o);
        break;
    case SIO_SERVER_OUTPUT_KIND_ACK_RECEIVED: {
        SioSlice atts[o->attachments_len + 1];
        slices_of(o->attachments, o->attachments_len, atts);
        emit_to(o->id, "answer", o->data.ptr, o->data.len, atts, o->attachments_len);
        break;
    }
    case SIO_SERVER_OUTPUT_KIND_ACK_TIMED_OUT: {
        static const char timeout[] = "[\"timeout\"]";
        emit_to(o->id, "answer", (const uint8_t *)timeout, strlen(timeout), NULL, 0);
        break;
    }
    case SIO_SERVER_OUTPUT_KIND_DISCONNECT:
        for (struct app_socket **p = &sockets; *p; p = &(*p)->next)
            if ((*p)->id == o->id) {
                struct app_socket *s = *p;
                *p = s->next;
                free(s);
                break;
            }
        break;
    default:
        break;
    }
}

/* ----- driving the core: drain after every call, then arm the timer ---------------------- */

static void on_timer(lws_sorted_usec_list_t *sul);

static void push_frame(struct conn *c, int binary, const SioBytes *data) {
    struct frame *f = malloc(sizeof *f + LWS_PRE + data->len);
    if (!f)
        abort();
    f->next = NULL;
    f->binary = binary;
    f->len = data->len;
    if (data->len)
        memcpy(f->data + LWS_PRE, data->ptr, data->len);
    if (c->tail)
        c->tail->next = f;
    else
        c->head = f;
    c->tail = f;
}

static void drain(void) {
    SioServerOutput o;
    for (;;) {
        SioStatus st = sio_server_poll_output(server, &o);
        if (st != SIO_STATUS_OK) {
            check(st, "poll_output");
            return;
        }
        if (o.kind == SIO_SERVER_OUTPUT_KIND_NONE)
            break;
        switch (o.kind) {
        case SIO_SERVER_OUTPUT_KIND_HTTP_RESPONSE: {
            struct conn *c = find_conn(CONN_HTTP, o.id);
            if (!c)
                break;
            c->answered = 1;
            c->status = o.status;
            snprintf(c->content_type, sizeof c->content_type, "%s", (const char *)o.name.ptr);
            c->response = malloc(LWS_PRE + o.data.len + 1);
            if (!c->response)
                abort();
            if (o.data.len)
                memcpy(c->response + LWS_PRE, o.data.ptr, o.data.len);
            c->response_len = o.data.len;
            lws_callback_on_writable(c->wsi);
            break;
        }
        case SIO_SERVER_OUTPUT_KIND_WS_TEXT:
        case SIO_SERVER_OUTPUT_KIND_WS_BINARY: {
            struct conn *c = find_conn(CONN_WS, o.id);
            if (!c)
                break;
            push_frame(c, o.kind == SIO_SERVER_OUTPUT_KIND_WS_BINARY, &o.data);
            lws_callback_on_writable(c->wsi);
            break;
        }
        case SIO_SERVER_OUTPUT_KIND_WS_CLOSE: {
            struct conn *c = find_conn(CONN_WS, o.id);
            if (!c)
                break;
            c->close_when_sent = 1;
            lws_callback_on_writable(c->wsi);
            break;
        }
        default:
            on_event(&o);
            break;
        }
    }
    uint64_t at;
    if (sio_server_poll_timeout(server, &at) == SIO_STATUS_OK && at != UINT64_MAX) {
        uint64_t now = now_ms();
        lws_usec_t delay = at > now ? (lws_usec_t)(at - now) * 1000 : 0;
        lws_sul_schedule(context, 0, &timer, on_timer, delay);
    } else {
        lws_sul_cancel(&timer);
    }
}

static void on_timer(lws_sorted_usec_list_t *sul) {
    (void)sul;
    check(sio_server_handle_timeout(server, now_ms()), "handle_timeout");
    drain();
}

/* ----- libwebsockets --------------------------------------------------------------------- */

static int is_engine_path(const char *path) {
    return strncmp(path, "/socket.io/", 11) == 0 || strcmp(path, "/socket.io") == 0;
}

/* The query string: lws splits it into (URL-decoded) fragments, joined again with '&'. */
static void copy_query(struct lws *wsi, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0;; i++) {
        char frag[512];
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (used + (size_t)n + 2 > len)
            break;
        if (used)
            buf[used++] = '&';
        memcpy(buf + used, frag, (size_t)n);
        used += (size_t)n;
        buf[used] = 0;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    struct pss *pss = user;
    struct conn *c = pss ? pss->c : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        if (!is_engine_path((const char *)in)) {
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
            return -1;
        }
        if (!c)
            c = pss->c = conn_new(wsi);
        http_reset(c);
        c->kind = CONN_HTTP;
        c->id = next_id++;
        copy_query(wsi, c->query, sizeof c->query);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
            c->method = SIO_METHOD_POST; /* the body follows */
            return 0;
        }
        c->method = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0 ? SIO_METHOD_GET
                                                                     : SIO_METHOD_OTHER;
        check(sio_server_handle_http(server, now_ms(), c->id, c->method, c->query, NULL, 0, NULL,
                                     0, NULL),
              "handle_http");
        drain();
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!c || c->kind != CONN_HTTP)
            return -1;
        if (c->body_len + len > MAX_MESSAGE)
            return -1;
        c->body = realloc(c->body, c->body_len + len + 1);
        if (!c->body)
            abort();
        memcpy(c->body + c->body_len, in, len);
        c->body_len += len;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!c || c->kind != CONN_HTTP)
            return -1;
        check(sio_server_handle_http(server, now_ms(), c->id, c->method, c->query, c->body,
                                     c->body_len, NULL, 0, NULL),
              "handle_http");
        drain();
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!c || c->kind != CONN_HTTP || !c->answered)
            return 0;
        unsigned char headers[LWS_PRE + 512];
        unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers;
        if (lws_add_http_common_headers(wsi, c->status, c->content_type, c->response_len, &p,
                                        end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        if (lws_write(wsi, c->response + LWS_PRE, c->response_len, LWS_WRITE_HTTP_FINAL) <
            (int)c->response_len)
            return -1;
        http_reset(c);
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            if (c->kind == CONN_HTTP && !c->answered && !shutting_down) {
                check(sio_server_handle_http_aborted(server, now_ms(), c->id), "aborted");
                drain();
            } else if (c->kind == CONN_WS && !c->close_when_sent && !shutting_down) {
                /* accepted by the core, but the upgrade never completed */
                check(sio_server_handle_ws_closed(server, now_ms(), c->id, true), "ws_closed");
                drain();
            }
            conn_free(c);
            pss->c = NULL;
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char path[256];
        if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0 || !is_engine_path(path))
            return 1;
        if (!c)
            c = pss->c = conn_new(wsi);
        http_reset(c);
        c->kind = CONN_WS;
        c->id = next_id++;
        copy_query(wsi, c->query, sizeof c->query);
        SioHttpResponse refused;
        SioStatus st = sio_server_handle_ws_open(server, now_ms(), c->id, c->query, NULL, 0, NULL,
                                                 &refused);
        drain();
        if (st != SIO_STATUS_OK) {
            /* lws cannot answer the upgrade with an HTTP error here: drop the connection. */
            c->kind = CONN_IDLE;
            return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        if (c && c->head)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE: {
        if (!c || c->kind != CONN_WS)
            return -1;
        if (lws_is_first_fragment(wsi))
            c->rx_len = 0;
        if (c->rx_len + len > MAX_MESSAGE)
            return -1;
        c->rx = realloc(c->rx, c->rx_len + len + 1);
        if (!c->rx)
            abort();
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            SioStatus st = sio_server_handle_ws_message(server, now_ms(), c->id,
                                                        lws_frame_is_binary(wsi), c->rx,
                                                        c->rx_len);
            c->rx_len = 0;
            drain();
            if (st != SIO_STATUS_OK)
                return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (!c || c->kind != CONN_WS)
            return -1;
        struct frame *f = c->head;
        if (f) {
            c->head = f->next;
            if (!c->head)
                c->tail = NULL;
            int n = lws_write(wsi, f->data + LWS_PRE, f->len,
                              f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
            int short_write = n < (int)f->len;
            free(f);
            if (short_write)
                return -1;
        }
        if (c->head) {
            lws_callback_on_writable(wsi);
        } else if (c->close_when_sent) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_CLOSED:
        if (c) {
            if (c->kind == CONN_WS && !c->close_when_sent && !shutting_down) {
                check(sio_server_handle_ws_closed(server, now_ms(), c->id, false), "ws_closed");
                drain();
            }
            conn_free(c);
            pss->c = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"sio", callback, sizeof(struct pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
    if (context)
        lws_cancel_service(context);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <port> [<ping interval ms> <ping timeout ms>]\n", argv[0]);
        return 2;
    }
    lws_set_log_level(LLL_ERR, NULL);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    SioServerConfig config;
    sio_server_config_default(&config);
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (!urandom || fread(config.seed, 1, sizeof config.seed, urandom) != sizeof config.seed) {
        fprintf(stderr, "no randomness\n");
        return 1;
    }
    fclose(urandom);
    if (argc >= 4) {
        config.ping_interval = strtoull(argv[2], NULL, 10);
        config.ping_timeout = strtoull(argv[3], NULL, 10);
    }
    server = sio_server_new(&config);
    if (!server)
        return 1;
    check(sio_server_add_namespace(server, "/custom"), "add_namespace");
    check(sio_server_add_namespace(server, "/admin"), "add_namespace");

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = atoi(argv[1]);
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws_create_context failed\n");
        sio_server_free(server);
        return 1;
    }
    printf("LISTENING %d\n", info.port);
    fflush(stdout);

    while (!stopping && lws_service(context, 0) >= 0)
        ;

    /* Shut down: every socket disconnects ("server shutting down"), then lws closes the
     * connections; their close callbacks no longer feed the core. */
    check(sio_server_close_all(server, now_ms()), "close_all");
    drain();
    shutting_down = 1;
    lws_sul_cancel(&timer);
    lws_context_destroy(context);
    context = NULL;
    while (conns)
        conn_free(conns);
    while (sockets) {
        struct app_socket *s = sockets;
        sockets = s->next;
        free(s);
    }
    sio_server_free(server);
    printf("STOPPED\n");
    return 0;
}
