//! A receipt as a standalone, printable HTML page in the receipt's language.

use super::labels::{issued_jst, plan_text, Labels};
use super::{SignedReceipt, VERIFY_COMMAND};

/// Escapes text for HTML element content and quoted attribute values.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans CJK JP','Noto Sans',sans-serif;\
color:#111;background:#f4f4f4;margin:0;padding:2rem 1rem}\
main{max-width:42rem;margin:0 auto;background:#fff;padding:2rem 2.5rem;border:1px solid #ccc}\
h1{font-size:1.6rem;margin:0 0 .25rem}\
h2{font-size:1.1rem;margin:1.75rem 0 .5rem;border-bottom:1px solid #ccc;padding-bottom:.25rem}\
.number{font-family:ui-monospace,Menlo,Consolas,monospace;color:#444;margin:0 0 1rem}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0}\
th{font-weight:600;width:40%;color:#333}\
td.amount,th.amount{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}\
tr.total th,tr.total td{border-top:2px solid #111;font-weight:700}\
ul{margin:.25rem 0;padding-left:1.25rem}\
footer{margin-top:2rem;padding-top:1rem;border-top:1px dashed #999;font-size:.8rem;color:#444}\
.sig{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}\
code{font-family:ui-monospace,Menlo,Consolas,monospace}\
@media print{body{background:#fff;padding:0}main{border:none;max-width:none;padding:0}}";

/// A standalone, printable HTML page of the receipt, labelled in the
/// receipt's language. Every value is HTML-escaped.
pub fn render_html(signed: &SignedReceipt) -> String {
    let r = &signed.receipt;
    let l = Labels::for_tag(&r.language);
    let e = escape_html;
    let mut h = String::with_capacity(4096);
    let row = |h: &mut String, label: &str, value: &str| {
        h.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            e(label),
            e(value)
        ));
    };

    h.push_str("<!DOCTYPE html>\n");
    h.push_str(&format!("<html lang=\"{}\">\n<head>\n", e(l.tag())));
    h.push_str("<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!(
        "<title>{} {}</title>\n",
        e(&l.title),
        e(&r.number)
    ));
    h.push_str(&format!(
        "<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
    ));
    h.push_str(&format!("<h1>{}</h1>\n", e(&l.title)));
    h.push_str(&format!("<p class=\"number\">{}</p>\n", e(&r.number)));

    h.push_str("<table class=\"facts\">\n");
    row(&mut h, &l.number, &r.number);
    row(&mut h, &l.carrier, &r.carrier);
    row(&mut h, &l.effective_date, &r.effective_date.to_string());
    row(&mut h, &l.issued, &issued_jst(r.issued_at));
    if let Some(until) = r.usage_counted_until {
        row(&mut h, &l.usage_counted_until, &issued_jst(until));
    }
    row(&mut h, &l.request, &r.request_id.to_string());
    row(&mut h, &l.channel, &l.channel_name(&r.channel));
    row(&mut h, &l.customer, &r.customer);
    row(&mut h, &l.policy_version, &r.policy_version.to_string());
    h.push_str("</table>\n");

    h.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"line\">\n",
        e(&l.line)
    ));
    row(&mut h, &l.iccid, &r.line.iccid);
    row(&mut h, &l.msisdn, &r.line.msisdn);
    row(&mut h, &l.plan, &plan_text(&r.line));
    h.push_str("</table>\n");

    h.push_str(&format!("<h2>{}</h2>\n", e(&l.addons_unbound)));
    if r.unbound_addons.is_empty() {
        h.push_str(&format!("<p>{}</p>\n", e(&l.none)));
    } else {
        h.push_str("<ul class=\"addons\">\n");
        for addon in &r.unbound_addons {
            h.push_str(&format!(
                "<li>{} <code>{}</code></li>\n",
                e(&addon.name),
                e(&addon.code)
            ));
        }
        h.push_str("</ul>\n");
    }

    h.push_str(&format!(
        "<h2>{}</h2>\n<table class=\"refund\">\n",
        e(&l.refund)
    ));
    row(&mut h, &l.refund_rule, &l.rule_name(&r.refund.rule));
    h.push_str("</table>\n");
    h.push_str(&format!(
        "<h3>{}</h3>\n<table class=\"items\">\n",
        e(&l.refund_items)
    ));
    if r.refund.items.is_empty() {
        h.push_str(&format!("<tr><td colspan=\"2\">{}</td></tr>\n", e(&l.none)));
    }
    for item in &r.refund.items {
        h.push_str(&format!(
            "<tr><td>{}</td><td class=\"amount\">{}</td></tr>\n",
            e(&item.label),
            e(&item.amount.to_string())
        ));
    }
    h.push_str(&format!(
        "<tr class=\"total\"><th>{}</th><td class=\"amount\">{}</td></tr>\n</table>\n",
        e(&l.total),
        e(&r.refund.total.to_string())
    ));
    h.push_str("<table class=\"credit\">\n");
    row(
        &mut h,
        &l.credited_to,
        &l.credited_name(&r.refund.credited_to),
    );
    h.push_str("</table>\n");

    h.push_str("<footer>\n");
    h.push_str(&format!(
        "<p>{}: <span class=\"sig\">{}</span></p>\n",
        e(&l.key_id),
        e(&signed.key_id)
    ));
    h.push_str(&format!(
        "<p>{}: <span class=\"sig\">{}</span></p>\n",
        e(&l.signature),
        e(&signed.signature)
    ));
    let (before, after) = l.verify_parts();
    h.push_str(&format!(
        "<p>{}<code>{}</code>{}</p>\n",
        e(before),
        e(VERIFY_COMMAND),
        e(after)
    ));
    h.push_str("</footer>\n</main>\n</body>\n</html>\n");
    h
}
