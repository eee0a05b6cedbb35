/* A SioClient talks to a SioServer through memory: the smallest complete use of the C API.
 * Build: cc -I protocol-ffi/include readme.c target/debug/libsio_ffi.a -lpthread -ldl -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"

static SioServer *server;
static SioClient *client;
static uint64_t now = 0;

static void must(SioStatus st) {
    if (st != SIO_STATUS_OK) {
        fprintf(stderr, "error: %s\n", sio_status_str(st));
        exit(1);
    }
}

/* Carry every output of each side to the other until both are quiet; return the server's
 * next application event (kind NONE if none) into *event. */
static void pump(SioServerOutput *event) {
    int moved = 1;
    event->kind = SIO_SERVER_OUTPUT_KIND_NONE;
    while (moved) {
        moved = 0;
        SioClientOutput c;
        for (must(sio_client_poll_output(client, &c)); c.kind != SIO_CLIENT_OUTPUT_KIND_NONE;
             must(sio_client_poll_output(client, &c))) {
            moved = 1;
            const char *query = c.name.ptr ? strchr((const char *)c.name.ptr, '?') : NULL;
            if (c.kind == SIO_CLIENT_OUTPUT_KIND_WS_OPEN) { /* "connect" the WebSocket */
                must(sio_server_handle_ws_open(server, now, c.id, query + 1, NULL, 0, NULL, NULL));
                must(sio_client_handle_ws_opened(client, now, c.id));
            } else if (c.kind == SIO_CLIENT_OUTPUT_KIND_WS_TEXT ||
                       c.kind == SIO_CLIENT_OUTPUT_KIND_WS_BINARY) {
                must(sio_server_handle_ws_message(server, now, c.id,
                                                  c.kind == SIO_CLIENT_OUTPUT_KIND_WS_BINARY,
                                                  c.data.ptr, c.data.len));
            } else if (c.kind == SIO_CLIENT_OUTPUT_KIND_ACK_RECEIVED) {
                printf("client: ack %s with %zu attachment(s)\n", (const char *)c.data.ptr,
                       c.attachments_len);
            }
        }
        SioServerOutput s;
        for (must(sio_server_poll_output(server, &s)); s.kind != SIO_SERVER_OUTPUT_KIND_NONE;
             must(sio_server_poll_output(server, &s))) {
            moved = 1;
            if (s.kind == SIO_SERVER_OUTPUT_KIND_WS_TEXT || s.kind == SIO_SERVER_OUTPUT_KIND_WS_BINARY)
                must(sio_client_handle_ws_message(client, now, s.id,
                                                  s.kind == SIO_SERVER_OUTPUT_KIND_WS_BINARY,
                                                  s.data.ptr, s.data.len));
            else if (s.kind == SIO_SERVER_OUTPUT_KIND_CONNECT_REQUEST)
                must(sio_server_accept(server, now, s.id, NULL)); /* let everyone in */
            else if (s.kind == SIO_SERVER_OUTPUT_KIND_MESSAGE && s.has_ack) {
                printf("server: %s %s, %zu attachment(s)\n", (const char *)s.name.ptr,
                       (const char *)s.data.ptr, s.attachments_len);
                SioSlice att = {s.attachments[0].ptr, s.attachments[0].len};
                /* Answer with the same arguments: the output's pointers are still valid. */
                must(sio_server_ack(server, now, s.id, s.ack, s.data.ptr, s.data.len, &att, 1));
            } else if (s.kind != SIO_SERVER_OUTPUT_KIND_WS_CLOSE)
                *event = s;
        }
    }
}

int main(void) {
    SioClientConfig cc;
    sio_client_config_default(&cc);
    cc.polling = false; /* WebSocket only */
    server = sio_server_new(NULL);
    client = sio_client_new(&cc);
    SioServerOutput event;

    must(sio_client_connect(client, now, "/", NULL, 0, 0));
    pump(&event);
    /* An event with a binary argument (placeholder 0) and an ack. */
    const char args[] = "[\"notes.txt\",{\"_placeholder\":true,\"num\":0}]";
    const uint8_t file[] = {1, 2, 3};
    SioSlice attachment = {file, sizeof file};
    must(sio_client_emit_with_ack(client, now, "/", "upload", (const uint8_t *)args,
                                  strlen(args), &attachment, 1, 5000, NULL));
    pump(&event);

    uint64_t deadline;
    must(sio_server_poll_timeout(server, &deadline));
    printf("next server deadline: %llu ms\n", (unsigned long long)deadline);
    sio_client_free(client);
    sio_server_free(server);
    return 0;
}
