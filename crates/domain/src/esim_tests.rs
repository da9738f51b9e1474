use super::*;

use ProfileState as S;

fn eid() -> Eid {
    Eid::from_body("890490320200088848002286855834").unwrap()
}

#[test]
fn names_read_back() {
    for state in ProfileState::ALL {
        assert_eq!(state.as_str().parse::<ProfileState>(), Ok(state));
        assert_eq!(state.to_string(), state.as_str());
    }
    for status in FinalProfileStatus::ALL {
        assert_eq!(status.as_str().parse::<FinalProfileStatus>(), Ok(status));
    }
    let unknown = "installing"
        .parse::<ProfileState>()
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("installing") && unknown.contains("downloaded"),
        "{unknown}"
    );
    assert_eq!(FinalProfileStatus::Unavailable.spec_value(), "Unavailable");
    assert_eq!(RequestKind::CancelOrder.to_string(), "CancelOrder");
}

#[test]
fn all_lists_every_state_once() {
    let mut names: Vec<_> = ProfileState::ALL.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ProfileState::ALL.len());
}

// ---- Requests -------------------------------------------------------------------------------

/// One request of each shape, with a short name for the table below.
fn requests() -> Vec<(&'static str, ProfileRequest)> {
    vec![
        ("order", ProfileRequest::DownloadOrder { eid: None }),
        (
            "order_eid",
            ProfileRequest::DownloadOrder { eid: Some(eid()) },
        ),
        ("confirm", ProfileRequest::ConfirmOrder { release: false }),
        (
            "confirm_release",
            ProfileRequest::ConfirmOrder { release: true },
        ),
        ("release", ProfileRequest::ReleaseProfile),
        (
            "cancel_available",
            ProfileRequest::CancelOrder {
                final_status: FinalProfileStatus::Available,
            },
        ),
        (
            "cancel_unavailable",
            ProfileRequest::CancelOrder {
                final_status: FinalProfileStatus::Unavailable,
            },
        ),
    ]
}

/// Every allowed (state, request) and where it leads, as SGP.22 section 3.1.6 draws it; every
/// pair not listed is refused.
const ALLOWED: &[(ProfileState, &str, ProfileState)] = &[
    (S::Available, "order", S::Allocated),
    (S::Available, "order_eid", S::Linked),
    (S::Allocated, "confirm", S::Confirmed),
    (S::Allocated, "confirm_release", S::Released),
    (S::Linked, "confirm", S::Confirmed),
    (S::Linked, "confirm_release", S::Released),
    (S::Confirmed, "release", S::Released),
    (S::Released, "release", S::Released),
    (S::Allocated, "cancel_available", S::Available),
    (S::Allocated, "cancel_unavailable", S::Unavailable),
    (S::Linked, "cancel_available", S::Available),
    (S::Linked, "cancel_unavailable", S::Unavailable),
    (S::Confirmed, "cancel_available", S::Available),
    (S::Confirmed, "cancel_unavailable", S::Unavailable),
    (S::Released, "cancel_available", S::Available),
    (S::Released, "cancel_unavailable", S::Unavailable),
    (S::Error, "cancel_available", S::Available),
    (S::Error, "cancel_unavailable", S::Unavailable),
];

#[test]
fn every_request_in_every_state_follows_the_table() {
    for state in ProfileState::ALL {
        for (name, req) in requests() {
            let expected = ALLOWED
                .iter()
                .find(|(s, n, _)| *s == state && *n == name)
                .map(|(_, _, to)| *to);
            match (request(state, &req), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want, "{state} + {name}"),
                (Err(_), None) => {}
                (got, want) => panic!("{state} + {name}: got {got:?}, expected {want:?}"),
            }
        }
    }
}

#[test]
fn a_profile_is_ordered_confirmed_and_released() {
    let s = request(S::Available, &ProfileRequest::DownloadOrder { eid: None }).unwrap();
    assert_eq!(s, S::Allocated);
    let s = request(s, &ProfileRequest::ConfirmOrder { release: false }).unwrap();
    assert_eq!(s, S::Confirmed);
    let s = request(s, &ProfileRequest::ReleaseProfile).unwrap();
    assert_eq!(s, S::Released);
    // A retried ReleaseProfile is answered with success by the SM-DP+ and changes nothing.
    assert_eq!(request(s, &ProfileRequest::ReleaseProfile), Ok(S::Released));
}

#[test]
fn refusals_name_the_reason() {
    let confirm = ProfileRequest::ConfirmOrder { release: true };
    assert_eq!(
        request(S::Available, &confirm),
        Err(EsimError::NotOrdered {
            request: RequestKind::ConfirmOrder
        })
    );
    assert_eq!(
        request(S::Released, &ProfileRequest::DownloadOrder { eid: None }),
        Err(EsimError::AlreadyOrdered { state: S::Released })
    );
    assert_eq!(
        request(S::Confirmed, &confirm),
        Err(EsimError::AlreadyConfirmed {
            state: S::Confirmed
        })
    );
    assert_eq!(
        request(S::Linked, &ProfileRequest::ReleaseProfile),
        Err(EsimError::NotConfirmed { state: S::Linked })
    );
    assert_eq!(
        request(S::Error, &ProfileRequest::DownloadOrder { eid: None }),
        Err(EsimError::DownloadFailed {
            request: RequestKind::DownloadOrder
        })
    );
    assert_eq!(
        request(
            S::Available,
            &ProfileRequest::CancelOrder {
                final_status: FinalProfileStatus::Available
            }
        ),
        Err(EsimError::NotOrdered {
            request: RequestKind::CancelOrder
        })
    );
}

#[test]
fn once_downloaded_the_order_cannot_be_cancelled() {
    for state in [S::Downloaded, S::Installed, S::Enabled, S::Disabled] {
        for (name, req) in requests() {
            let error = request(state, &req).unwrap_err();
            assert_eq!(
                error,
                EsimError::AlreadyDownloaded {
                    state,
                    request: req.kind()
                },
                "{state} + {name}"
            );
            assert!(
                error.to_string().contains("end the line on the network"),
                "{error}"
            );
        }
    }
}

#[test]
fn final_states_refuse_everything() {
    for (_, req) in requests() {
        assert_eq!(request(S::Deleted, &req), Err(EsimError::Deleted));
        assert_eq!(request(S::Unavailable, &req), Err(EsimError::Unavailable));
    }
    assert!(EsimError::Deleted.to_string().contains("new eSIM"));
    assert!(EsimError::Unavailable.to_string().contains("another ICCID"));
}
