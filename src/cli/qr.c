/* `mopay qr decode|encode|render`: EMV merchant-presented payloads from the command line, for
 * merchants printing their codes and for anyone checking one. stdout carries only the result
 * (JSON, the payload, the image); refusals print "code: title" on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "qr.h"
#include "mopay/assert.h"
#include "mopay/limits.h"
#include "mopay/money.h"
#include "mopay/qr.h"

#define DEFAULT_GUID MOPAY_QR_GUID
#define DEFAULT_SCALE 8
#define DEFAULT_MARGIN 4 /* the quiet zone the QR standard asks for */

static const char usage_text[] =
    "Usage: mopay qr COMMAND ...\n\n"
    "EMV merchant-presented QR codes.\n\n"
    "Commands:\n"
    "  decode     print a payload's objects as JSON\n"
    "  encode     write a mopay merchant's payload\n"
    "  render     draw a payload as PNG or SVG\n\n"
    "Run 'mopay qr COMMAND --help' for a command's options.\n";

static const char decode_usage[] =
    "Usage: mopay qr decode PAYLOAD\n\n"
    "Prints the payload's objects (templates with their sub-objects) and what they mean as JSON.\n"
    "A payload that is not valid exits 1 with its error code on stderr.\n";

static const char encode_usage[] =
    "Usage: mopay qr encode --merchant-id ID --name NAME --city CITY --country CC --mcc NNNN\n"
    "                       --currency CUR [--amount 12.34] [--order-id ID] [--reference REF]\n"
    "                       [--guid " DEFAULT_GUID "]\n\n"
    "Prints a mopay merchant's payload: static (the payer enters the amount) or, with --amount,\n"
    "dynamic. --order-id goes into mopay's account template, whose GUID --guid names;\n"
    "--reference is the merchant's own, shown to the payer. The name has at most 25 characters,\n"
    "the city 15, the reference 25.\n";

static const char render_usage[] =
    "Usage: mopay qr render --format png|svg [--out FILE] [--scale N] [--margin N] PAYLOAD\n\n"
    "Draws a payload (checked first, as decode does) as a QR code at error correction level M.\n"
    "--scale is pixels per module (1-32, default 8), --margin the quiet zone in modules (0-16,\n"
    "default 4). The image goes to FILE, or to stdout.\n";

struct option {
    const char *name;
    const char **value;
};

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Reads "--flag VALUE" pairs of `options` and at most one positional argument from
 * argv[1..argc). Returns false, having said why on stderr, on an unknown flag, a flag without
 * its value or a second positional argument. */
static bool args_parse(const char *command, int argc, char **argv, const struct option *options, size_t count,
                       const char **positional, bool *help)
{
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            *help = true;
            continue;
        }
        const struct option *o = NULL;
        for (size_t k = 0; k < count; k++)
            if (strcmp(argv[i], options[k].name) == 0)
                o = &options[k];
        if (o != NULL && i + 1 < argc) {
            *o->value = argv[++i];
        } else if (o == NULL && argv[i][0] != '-' && positional != NULL && *positional == NULL) {
            *positional = argv[i];
        } else {
            fprintf(stderr, "mopay qr %s: bad argument %s (see mopay qr %s --help)\n", command, argv[i], command);
            return false;
        }
    }
    return true;
}

static int refused(enum mopay_err err)
{
    fprintf(stderr, "%s: %s\n", mopay_err_code(err), mopay_err_title(err));
    return 1;
}

/* jansson returns NULL only when out of memory or on invalid UTF-8, which decoding refused. */
static json_t *made(json_t *j)
{
    MOPAY_ASSERT(j != NULL);
    return j;
}

static void put(json_t *object, const char *key, json_t *value)
{
    int rc = json_object_set_new(object, key, made(value));
    MOPAY_ASSERT(rc == 0);
}

static void append(json_t *array, json_t *value)
{
    int rc = json_array_append_new(array, made(value));
    MOPAY_ASSERT(rc == 0);
}

static json_t *object_json(const struct mopay_qr *qr, const struct mopay_qr_object *o)
{
    char id[3] = {(char)('0' + o->id / 10), (char)('0' + o->id % 10), '\0'};
    size_t len;
    const char *value = mopay_qr_value(qr, o, &len);
    json_t *j = made(json_object());
    put(j, "id", json_string(id));
    put(j, "value", json_stringn(value, len));
    if (o->subs_count > 0) {
        json_t *subs = made(json_array());
        for (size_t i = 0; i < o->subs_count; i++)
            append(subs, object_json(qr, &qr->subs[o->subs_first + i]));
        put(j, "objects", subs);
    }
    return j;
}

static json_t *money_json(int64_t minor, const struct mopay_currency *currency)
{
    char text[MOPAY_MONEY_TEXT_BYTES];
    mopay_money_format(minor, currency, text);
    return json_string(text);
}

static json_t *tip_json(const struct mopay_qr *qr)
{
    struct mopay_qr_tip tip;
    mopay_qr_tip(qr, &tip);
    static const char *const kinds[] = {NULL, "prompt", "fixed", "percent"};
    if (tip.kind == MOPAY_QR_TIP_NONE)
        return json_null();
    json_t *j = made(json_object());
    put(j, "kind", json_string(kinds[tip.kind]));
    if (tip.kind == MOPAY_QR_TIP_FIXED)
        put(j, "fee", money_json(tip.fee_minor, mopay_qr_currency(qr)));
    if (tip.kind == MOPAY_QR_TIP_PERCENT)
        put(j, "percent", json_sprintf("%u.%02u", tip.fee_bps / 100u, tip.fee_bps % 100u));
    return j;
}

/* The objects as they are, then what the typed accessors make of them. */
static json_t *decoded_json(const struct mopay_qr *qr)
{
    static const char *const initiations[] = {NULL, "static", "dynamic"};
    json_t *root = made(json_object());
    json_t *objects = made(json_array());
    for (size_t i = 0; i < qr->objects_count; i++)
        append(objects, object_json(qr, &qr->objects[i]));
    put(root, "objects", objects);
    put(root, "lengths", json_string(qr->lengths_in_bytes ? "utf8_bytes" : "characters"));
    enum mopay_qr_initiation initiation = mopay_qr_initiation(qr);
    bool none = initiation == MOPAY_QR_INITIATION_NONE;
    put(root, "initiation", none ? json_null() : json_string(initiations[initiation]));
    const struct mopay_currency *currency = mopay_qr_currency(qr);
    put(root, "currency", currency ? json_string(currency->alpha) : json_null());
    int64_t amount;
    put(root, "amount", mopay_qr_amount(qr, &amount) ? money_json(amount, currency) : json_null());
    put(root, "tip", tip_json(qr));
    return root;
}

static int qr_decode(int argc, char **argv)
{
    const char *payload = NULL;
    bool help = false;
    if (!args_parse("decode", argc, argv, NULL, 0, &payload, &help))
        return 2;
    if (help) {
        fputs(decode_usage, stdout);
        return 0;
    }
    if (payload == NULL) {
        fprintf(stderr, "mopay qr decode: the payload is missing (see mopay qr decode --help)\n");
        return 2;
    }
    struct mopay_qr qr;
    enum mopay_err err = mopay_qr_decode(payload, strlen(payload), &qr);
    if (err != MOPAY_OK)
        return refused(err);
    json_t *root = decoded_json(&qr);
    int rc = json_dumpf(root, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF ? 0 : 1;
    json_decref(root);
    return rc;
}

static int qr_encode(int argc, char **argv)
{
    const char *id = NULL, *name = NULL, *city = NULL, *country = NULL, *mcc = NULL, *currency = NULL;
    const char *amount = NULL, *order = NULL, *reference = NULL, *guid = DEFAULT_GUID;
    const struct option options[] = {
        {"--merchant-id", &id}, {"--name", &name}, {"--city", &city}, {"--country", &country}, {"--mcc", &mcc},
        {"--currency", &currency}, {"--amount", &amount}, {"--order-id", &order}, {"--reference", &reference},
        {"--guid", &guid},
    };
    bool help = false;
    if (!args_parse("encode", argc, argv, options, sizeof(options) / sizeof(options[0]), NULL, &help))
        return 2;
    if (help) {
        fputs(encode_usage, stdout);
        return 0;
    }
    if (!id || !name || !city || !country || !mcc || !currency) {
        fprintf(stderr, "mopay qr encode: --merchant-id, --name, --city, --country, --mcc and --currency are "
                        "required (see mopay qr encode --help)\n");
        return 2;
    }
    struct mopay_qr_input in = {
        .guid = guid, .merchant_id = id, .order_id = order, .merchant_name = name, .merchant_city = city,
        .country = country, .mcc = mcc, .currency = mopay_currency_by_alpha(currency, strlen(currency)),
        .reference = reference,
    };
    if (in.currency == NULL)
        return refused(MOPAY_ERR_currency_unknown);
    enum mopay_err err = MOPAY_OK;
    in.dynamic = amount != NULL;
    if (in.dynamic)
        err = mopay_money_parse(amount, strlen(amount), in.currency, 0, &in.amount_minor);
    char payload[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    size_t len;
    if (err == MOPAY_OK)
        err = mopay_qr_encode(&in, payload, &len);
    if (err != MOPAY_OK)
        return refused(err);
    printf("%s\n", payload);
    return 0;
}

/* An option's number within [min, max]; false, having said why, otherwise. */
static bool number_parse(const char *flag, const char *text, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    unsigned long n = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "mopay qr render: %s must be a number from %u to %u\n", flag, min, max);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

/* Writes the image to `path`, or stdout when NULL; false, having said why, on I/O errors. */
static bool image_write(const char *path, const void *image, size_t len)
{
    FILE *f = path != NULL ? fopen(path, "wb") : stdout;
    bool ok = f != NULL && fwrite(image, 1, len, f) == len;
    ok = f != NULL && (path != NULL ? fclose(f) == 0 : fflush(f) == 0) && ok;
    if (!ok)
        perror(path != NULL ? path : "stdout");
    return ok;
}

static int qr_render(int argc, char **argv)
{
    const char *format = NULL, *path = NULL, *scale_text = NULL, *margin_text = NULL, *payload = NULL;
    const struct option options[] = {
        {"--format", &format}, {"--out", &path}, {"--scale", &scale_text}, {"--margin", &margin_text},
    };
    bool help = false;
    if (!args_parse("render", argc, argv, options, sizeof(options) / sizeof(options[0]), &payload, &help))
        return 2;
    if (help) {
        fputs(render_usage, stdout);
        return 0;
    }
    unsigned scale = DEFAULT_SCALE, margin = DEFAULT_MARGIN;
    if ((scale_text && !number_parse("--scale", scale_text, 1, MOPAY_QR_SCALE_MAX, &scale)) ||
        (margin_text && !number_parse("--margin", margin_text, 0, MOPAY_QR_MARGIN_MAX, &margin)))
        return 2;
    bool png = format != NULL && strcmp(format, "png") == 0;
    if (payload == NULL || format == NULL || (!png && strcmp(format, "svg") != 0)) {
        fprintf(stderr, "mopay qr render: --format png|svg and a payload are required (see mopay qr render --help)\n");
        return 2;
    }
    struct mopay_qr qr;
    size_t len = strlen(payload);
    enum mopay_err err = mopay_qr_decode(payload, len, &qr);
    unsigned char *png_image = NULL;
    char *svg_image = NULL;
    size_t image_len = 0;
    if (err == MOPAY_OK && png)
        err = mopay_qr_render_png(payload, len, scale, margin, &png_image, &image_len);
    else if (err == MOPAY_OK)
        err = mopay_qr_render_svg(payload, len, scale, margin, &svg_image, &image_len);
    if (err != MOPAY_OK)
        return refused(err);
    bool ok = image_write(path, png ? (const void *)png_image : svg_image, image_len);
    free(png_image);
    free(svg_image);
    return ok ? 0 : 1;
}

int mopay_cli_qr(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {{"decode", qr_decode}, {"encode", qr_encode}, {"render", qr_render}};
    if (argc < 2 || is_help(argv[1])) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mopay qr: unknown command '%s'\n\n%s", argv[1], usage_text);
    return 2;
}
