//! My eSIM: the activation code of a line the traveller holds, as a QR code to scan and as the
//! text to type, with the steps to install it. The code is a bearer secret: the page is never
//! cached and the code appears nowhere else on the portal.

use super::{failed, own_line, page, render, service_error, LangQuery, Traveller};
use crate::web::pages::Page;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use simdesk_domain::esim::ActivationCode;

#[derive(Template)]
#[template(path = "esim.html")]
struct EsimPage {
    page: Page,
    msisdn: String,
    /// The code's QR image (inline SVG), what the phone's camera reads.
    qr_svg: Option<String>,
    smdp_address: String,
    /// What an iPhone asks for beside the address ("Activation Code"): the matching ID.
    matching_id: String,
    /// The whole code (`LPA:1$…`), as Android phones take it typed.
    full_code: String,
    state_key: String,
    /// A SIM card: there is nothing to install.
    physical: bool,
}

pub async fn esim_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let path = format!("/my/lines/{iccid}/esim");
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    let store = state.ctx.store.as_ref();
    let read = async {
        Ok::<_, crate::store::StoreError>((
            store.esim_profile(line.id).await?,
            store.activation_code(line.id).await?,
        ))
    };
    let (profile, code) = match read.await {
        Ok(parts) => parts,
        Err(e) => return service_error(&visitor, e.into(), "/my"),
    };
    let state_key = format!(
        "esim-state-{}",
        crate::services::esim::status_of(profile.as_ref())
            .state
            .as_str()
    );
    let (qr_svg, smdp_address, matching_id, full_code) = match &code {
        Some(code) => (
            qr_svg(code),
            code.smdp_address().to_string(),
            code.matching_id().expose().to_string(),
            code.lpa_uri(),
        ),
        None => (None, String::new(), String::new(), String::new()),
    };
    let mut response = render(
        EsimPage {
            page: page(&visitor, &path),
            msisdn: line.msisdn.national(),
            qr_svg,
            smdp_address,
            matching_id,
            full_code,
            state_key,
            physical: line.kind != simdesk_domain::line::LineKind::Esim,
        },
        &headers,
        q.lang.as_deref(),
    );
    // Whoever has the code has the profile: no cache, proxy or back button keeps it.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    response
}

/// The code as a QR image an eSIM phone's camera reads (`LPA:1$…`), sized for a phone screen;
/// `None` if the code is too long for a QR code (it never is within SGP.22's 255 characters).
fn qr_svg(code: &ActivationCode) -> Option<String> {
    let qr = QrCode::with_error_correction_level(code.lpa_uri().as_bytes(), EcLevel::M).ok()?;
    Some(
        qr.render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_image_of_the_lpa_text() {
        let code: ActivationCode = "LPA:1$rsp.example.com$ABC-123".parse().unwrap();
        let svg = qr_svg(&code).unwrap();
        assert!(svg.starts_with("<?xml"), "{svg}");
        assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
        // The image is not the text: the code is read by the camera, not the page's source.
        assert!(!svg.contains("ABC-123"));
    }
}
