use super::*;
use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
use proptest::prelude::*;

use ProfileState as S;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn eid() -> Eid {
    Eid::from_body("890490320200088848002286855834").unwrap()
}

fn success(point: NotificationPoint, when: &str) -> ProgressReport {
    ProgressReport {
        point,
        status: ExecutionStatus::Success,
        status_code: None,
        at: at(when),
    }
}

fn failure(point: NotificationPoint, when: &str) -> ProgressReport {
    ProgressReport {
        point,
        status: ExecutionStatus::Failed,
        status_code: Some(StatusCode {
            subject_code: "8.2.7".into(),
            reason_code: "6.4".into(),
            message: Some("Maximum number of retries exceeded".into()),
        }),
        at: at(when),
    }
}

/// Applies `reports` in order from `state` and returns where the profile ends.
fn after(state: ProfileState, reports: &[ProgressReport]) -> ProfileStatus {
    reports
        .iter()
        .fold(ProfileStatus::from(state), |status, r| status.apply(r).0)
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

// ---- Reports --------------------------------------------------------------------------------

#[test]
fn notification_points_are_read_from_their_ids() {
    let none = CustomPoints::default();
    let expected = [
        (1, NotificationPoint::Eligibility),
        (2, NotificationPoint::ConfirmationCode),
        (3, NotificationPoint::BppDownload),
        (4, NotificationPoint::BppInstallation),
        (5, NotificationPoint::Deletion),
    ];
    for (id, point) in expected {
        assert_eq!(NotificationPoint::from_id(id, &none), Ok(point));
        assert_eq!(point.id(&none), Some(id));
    }
    for id in [0, 6, 99, 100, 101] {
        assert_eq!(
            NotificationPoint::from_id(id, &none),
            Err(ReportError::UnknownPoint { id })
        );
    }
    let agreed = CustomPoints {
        enabling: Some(101),
        disabling: Some(102),
    };
    assert_eq!(agreed.validate(), Ok(()));
    assert_eq!(
        NotificationPoint::from_id(101, &agreed),
        Ok(NotificationPoint::Enabling)
    );
    assert_eq!(
        NotificationPoint::from_id(102, &agreed),
        Ok(NotificationPoint::Disabling)
    );
    assert_eq!(NotificationPoint::Disabling.id(&agreed), Some(102));
    assert_eq!(NotificationPoint::Enabling.id(&none), None);
}

#[test]
fn custom_points_stay_out_of_the_reserved_range() {
    let reserved = CustomPoints {
        enabling: Some(6),
        disabling: None,
    };
    assert_eq!(
        reserved.validate(),
        Err(ReportError::ReservedPoint { id: 6 })
    );
    let twice = CustomPoints {
        enabling: Some(100),
        disabling: Some(100),
    };
    assert_eq!(
        twice.validate(),
        Err(ReportError::DuplicatePoint { id: 100 })
    );
}

#[test]
fn execution_statuses_are_read_as_sgp22_writes_them() {
    for status in ExecutionStatus::ALL {
        assert_eq!(ExecutionStatus::from_spec(status.spec_value()), Ok(status));
    }
    let error = ExecutionStatus::from_spec("Executed-Maybe").unwrap_err();
    assert!(error.to_string().contains("Executed-Maybe"), "{error}");
    assert!(ExecutionStatus::SuccessWithWarning.succeeded());
    assert!(!ExecutionStatus::Expired.succeeded());
}

#[test]
fn a_download_is_followed_step_by_step() {
    use NotificationPoint as P;
    let status = ProfileStatus::from(S::Released);
    let (status, outcome) = status.apply(&success(P::Eligibility, "2026-12-01T01:00:00Z"));
    assert_eq!(outcome, ReportOutcome::AlreadyKnown);
    let (status, outcome) = status.apply(&success(P::BppDownload, "2026-12-01T01:00:05Z"));
    assert_eq!(
        outcome,
        ReportOutcome::Moved {
            from: S::Released,
            to: S::Downloaded
        }
    );
    let (status, _) = status.apply(&success(P::BppInstallation, "2026-12-01T01:00:09Z"));
    assert_eq!(status.state, S::Installed);
    assert_eq!(status.as_of, Some(at("2026-12-01T01:00:09Z")));
}

#[test]
fn installed_before_downloaded_is_accepted() {
    use NotificationPoint as P;
    let installed = success(P::BppInstallation, "2026-12-01T01:00:09Z");
    let downloaded = success(P::BppDownload, "2026-12-01T01:00:05Z");
    let (status, outcome) = ProfileStatus::from(S::Released).apply(&installed);
    assert_eq!(
        outcome,
        ReportOutcome::Moved {
            from: S::Released,
            to: S::Installed
        }
    );
    assert_eq!(status.apply(&downloaded).1, ReportOutcome::AlreadyKnown);
}

#[test]
fn a_later_step_moves_on_even_before_simdesk_recorded_the_release() {
    // The traveller may scan the code before ConfirmOrder's answer is stored.
    let report = success(NotificationPoint::BppDownload, "2026-12-01T01:00:05Z");
    assert_eq!(
        after(S::Allocated, std::slice::from_ref(&report)).state,
        S::Downloaded
    );
    assert_eq!(after(S::Available, &[report]).state, S::Downloaded);
}

#[test]
fn the_same_report_twice_changes_nothing() {
    let report = success(NotificationPoint::BppDownload, "2026-12-01T01:00:05Z");
    let (once, _) = ProfileStatus::from(S::Released).apply(&report);
    let (twice, outcome) = once.apply(&report);
    assert_eq!(outcome, ReportOutcome::AlreadyKnown);
    assert_eq!(once, twice);
}

#[test]
fn a_failure_before_download_ends_in_error_and_can_be_cancelled() {
    let report = failure(NotificationPoint::ConfirmationCode, "2026-12-01T01:00:05Z");
    let (status, outcome) = ProfileStatus::from(S::Released).apply(&report);
    assert_eq!(
        outcome,
        ReportOutcome::Failed {
            point: NotificationPoint::ConfirmationCode,
            from: S::Released,
            to: S::Error
        }
    );
    let cancel = ProfileRequest::CancelOrder {
        final_status: FinalProfileStatus::Available,
    };
    assert_eq!(request(status.state, &cancel), Ok(S::Available));
}

#[test]
fn a_failure_never_moves_backwards() {
    use NotificationPoint as P;
    let late = failure(P::Eligibility, "2026-12-01T01:00:01Z");
    assert_eq!(
        report(S::Downloaded.into(), &late),
        ReportOutcome::Failed {
            point: P::Eligibility,
            from: S::Downloaded,
            to: S::Downloaded
        }
    );
    let deletion_failed = failure(P::Deletion, "2026-12-05T01:00:00Z");
    assert_eq!(after(S::Enabled, &[deletion_failed]).state, S::Enabled);
}

#[test]
fn a_failed_installation_still_proves_the_download() {
    let report = failure(NotificationPoint::BppInstallation, "2026-12-01T01:00:09Z");
    let status = after(S::Released, &[report]);
    assert_eq!(status.state, S::Downloaded);
    assert!(request(
        status.state,
        &ProfileRequest::CancelOrder {
            final_status: FinalProfileStatus::Available
        }
    )
    .is_err());
}

#[test]
fn a_download_reported_after_an_error_wins() {
    use NotificationPoint as P;
    // The retry-limit failure came from a later attempt; the earlier download arrives last.
    let status = after(
        S::Released,
        &[
            failure(P::Eligibility, "2026-12-01T02:00:00Z"),
            success(P::BppDownload, "2026-12-01T01:00:00Z"),
        ],
    );
    assert_eq!(status.state, S::Downloaded);
}

#[test]
fn a_stale_failure_leaves_an_available_profile_alone() {
    let report = failure(NotificationPoint::ConfirmationCode, "2026-12-01T01:00:00Z");
    assert_eq!(after(S::Available, &[report]).state, S::Available);
}

#[test]
fn deleted_is_final() {
    use NotificationPoint as P;
    let status = after(
        S::Installed,
        &[
            success(P::Deletion, "2026-12-05T01:00:00Z"),
            success(P::Enabling, "2026-12-06T01:00:00Z"),
            success(P::BppInstallation, "2026-12-01T01:00:00Z"),
            failure(P::Deletion, "2026-12-07T01:00:00Z"),
        ],
    );
    assert_eq!(status.state, S::Deleted);
}

#[test]
fn progress_for_an_unavailable_profile_is_a_contradiction() {
    let report = success(NotificationPoint::BppDownload, "2026-12-01T01:00:00Z");
    assert_eq!(
        report_outcome(S::Unavailable, &report),
        ReportOutcome::Contradicts {
            state: S::Unavailable
        }
    );
    assert_eq!(after(S::Unavailable, &[report]).state, S::Unavailable);
}

fn report_outcome(state: ProfileState, progress: &ProgressReport) -> ReportOutcome {
    report(state.into(), progress)
}

#[test]
fn switching_on_and_off_follows_the_reports_time() {
    use NotificationPoint as P;
    let on = success(P::Enabling, "2026-12-02T01:00:00Z");
    let off = success(P::Disabling, "2026-12-09T01:00:00Z");
    let on_again = success(P::Enabling, "2026-12-20T01:00:00Z");
    assert_eq!(
        after(S::Installed, &[on.clone(), off.clone()]).state,
        S::Disabled
    );
    // The switch-on delivered again after the switch-off is old news.
    assert_eq!(
        after(S::Installed, &[on.clone(), off.clone(), on.clone()]).state,
        S::Disabled
    );
    assert_eq!(
        after(S::Installed, &[off.clone(), on.clone()]).state,
        S::Disabled
    );
    assert_eq!(after(S::Installed, &[off, on, on_again]).state, S::Enabled);
}

#[test]
fn at_the_same_instant_disabled_wins() {
    use NotificationPoint as P;
    let on = success(P::Enabling, "2026-12-02T01:00:00Z");
    let off = success(P::Disabling, "2026-12-02T01:00:00Z");
    assert_eq!(
        after(S::Installed, &[on.clone(), off.clone()]).state,
        S::Disabled
    );
    assert_eq!(after(S::Installed, &[off, on]).state, S::Disabled);
}

#[test]
fn a_switch_implies_installation() {
    let on = success(NotificationPoint::Enabling, "2026-12-02T01:00:00Z");
    assert_eq!(after(S::Downloaded, &[on]).state, S::Enabled);
    let failed = failure(NotificationPoint::Disabling, "2026-12-02T01:00:00Z");
    assert_eq!(after(S::Released, &[failed]).state, S::Installed);
}

// ---- Report properties ----------------------------------------------------------------------

fn any_state() -> impl Strategy<Value = ProfileState> {
    prop::sample::select(ProfileState::ALL.to_vec())
}

fn any_point() -> impl Strategy<Value = NotificationPoint> {
    prop::sample::select(NotificationPoint::ALL.to_vec())
}

/// Times within a month, at one-second steps so that equal times come up too.
fn any_time() -> impl Strategy<Value = Timestamp> {
    (0i64..40).prop_map(|s| Timestamp::from_second(1_796_000_000 + s * 3_600).unwrap())
}

fn any_report() -> impl Strategy<Value = ProgressReport> {
    (
        any_point(),
        prop::sample::select(ExecutionStatus::ALL.to_vec()),
        any_time(),
    )
        .prop_map(|(point, status, at)| ProgressReport {
            point,
            status,
            status_code: None,
            at,
        })
}

fn success_report() -> impl Strategy<Value = ProgressReport> {
    (any_point(), any::<bool>(), any_time()).prop_map(|(point, warning, at)| ProgressReport {
        point,
        status: if warning {
            ExecutionStatus::SuccessWithWarning
        } else {
            ExecutionStatus::Success
        },
        status_code: None,
        at,
    })
}

fn any_status() -> impl Strategy<Value = ProfileStatus> {
    (any_state(), prop::option::of(any_time()))
        .prop_map(|(state, as_of)| ProfileStatus { state, as_of })
}

fn any_request() -> impl Strategy<Value = ProfileRequest> {
    prop_oneof![
        any::<bool>().prop_map(|linked| ProfileRequest::DownloadOrder {
            eid: linked.then(eid)
        }),
        any::<bool>().prop_map(|release| ProfileRequest::ConfirmOrder { release }),
        Just(ProfileRequest::ReleaseProfile),
        prop::sample::select(FinalProfileStatus::ALL.to_vec())
            .prop_map(|final_status| ProfileRequest::CancelOrder { final_status }),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Ask(ProfileRequest),
    Hear(ProgressReport),
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any_request().prop_map(Step::Ask),
        any_report().prop_map(Step::Hear),
    ]
}

/// Cases for the report properties: each case is a handful of comparisons, and the rare
/// interleavings (two switches at one instant) need many tries to come up.
const REPORT_CASES: u32 = 4_000;

proptest! {
    #![proptest_config(config(REPORT_CASES))]

    /// Whatever is asked and heard in whatever order: nothing leaves a final state, and a
    /// profile that reached a phone never counts as not downloaded again (so never as available).
    #[test]
    fn no_path_out_of_a_final_state_or_back_from_a_phone(
        start in prop::sample::select(vec![S::Available, S::Allocated, S::Released]),
        steps in prop::collection::vec(any_step(), 0..40),
    ) {
        let mut status = ProfileStatus::from(start);
        for step in steps {
            let next = match &step {
                Step::Ask(req) => match request(status.state, req) {
                    Ok(to) => {
                        prop_assert!(to != status.state || *req == ProfileRequest::ReleaseProfile);
                        ProfileStatus::from(to)
                    }
                    Err(_) => status,
                },
                Step::Hear(progress) => status.apply(progress).0,
            };
            if status.state.is_final() {
                prop_assert_eq!(next.state, status.state, "left {} by {:?}", status.state, step);
            }
            if status.state.was_downloaded() {
                prop_assert!(next.state.was_downloaded(), "{} -> {} by {:?}", status.state, next.state, step);
                prop_assert_ne!(next.state, S::Available);
            }
            status = next;
        }
    }

    /// Hearing the same report twice is the same as hearing it once.
    #[test]
    fn a_report_heard_twice_counts_once(status in any_status(), progress in any_report()) {
        let (once, _) = status.apply(&progress);
        let (twice, outcome) = once.apply(&progress);
        prop_assert_eq!(once, twice);
        if progress.succeeded() {
            prop_assert!(matches!(outcome, ReportOutcome::AlreadyKnown | ReportOutcome::Contradicts { .. }), "{:?}", outcome);
        }
    }

    /// Success reports may come in any order: the profile ends where their true order leads.
    #[test]
    fn success_reports_in_any_order_end_alike(
        status in any_status(),
        (reports, shuffled) in prop::collection::vec(success_report(), 1..8)
            .prop_flat_map(|reports| (Just(reports.clone()), Just(reports).prop_shuffle())),
    ) {
        let mut sorted = reports;
        sorted.sort_by_key(|r| r.at);
        let in_order = sorted.iter().fold(status, |s, r| s.apply(r).0);
        let shuffled_end = shuffled.iter().fold(status, |s, r| s.apply(r).0);
        prop_assert_eq!(in_order.state, shuffled_end.state);
    }

    /// A report never moves a profile to a lower rank; a failure never moves it at all unless it
    /// proves a step further than simdesk knew.
    #[test]
    fn reports_only_move_forward(status in any_status(), progress in any_report()) {
        let (next, outcome) = status.apply(&progress);
        prop_assert!(next.state.rank() >= status.state.rank(), "{:?} -> {:?}", status, next);
        match outcome {
            ReportOutcome::Moved { from, to } | ReportOutcome::Failed { from, to, .. } => {
                prop_assert_eq!(from, status.state);
                prop_assert_eq!(to, next.state);
            }
            ReportOutcome::AlreadyKnown | ReportOutcome::Contradicts { .. } => {
                prop_assert_eq!(next, status);
            }
        }
    }
}

// ---- Codes ----------------------------------------------------------------------------------

const SPEC_EXAMPLES: [&str; 4] = [
    "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815",
    "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$$1",
    "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1",
    "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746",
];

#[test]
fn the_specs_examples_read_and_render() {
    for text in SPEC_EXAMPLES {
        let code: ActivationCode = text.parse().unwrap();
        assert_eq!(code.render(), text);
        assert_eq!(code.lpa_uri(), format!("LPA:{text}"));
        assert_eq!(code.lpa_uri().parse::<ActivationCode>(), Ok(code.clone()));
        assert_eq!(code.smdp_address().as_str(), "SMDP.GSMA.COM");
        assert_eq!(code.matching_id().expose(), "04386-AGYFT-A74Y8-3F815");
    }
    let full: ActivationCode = SPEC_EXAMPLES[2].parse().unwrap();
    assert_eq!(
        full.smdp_oid().map(SmdpOid::as_str),
        Some("1.3.6.1.4.1.31746")
    );
    assert!(full.confirmation_code_required());
    let flag_only: ActivationCode = SPEC_EXAMPLES[1].parse().unwrap();
    assert_eq!(flag_only.smdp_oid(), None);
    assert!(flag_only.confirmation_code_required());
}

#[test]
fn a_code_is_built_from_its_parts() {
    let code = ActivationCode::new(
        "smdp.example.com".parse().unwrap(),
        "QR-G-5C-KR-1JXF5".parse().unwrap(),
    )
    .unwrap();
    assert_eq!(code.render(), "1$smdp.example.com$QR-G-5C-KR-1JXF5");
    assert_eq!(code.lpa_uri(), "LPA:1$smdp.example.com$QR-G-5C-KR-1JXF5");
    let code = code.with_confirmation_code_required().unwrap();
    assert_eq!(code.render(), "1$smdp.example.com$QR-G-5C-KR-1JXF5$$1");
    let code = code.with_smdp_oid("2.999.1".parse().unwrap()).unwrap();
    assert_eq!(
        code.render(),
        "1$smdp.example.com$QR-G-5C-KR-1JXF5$2.999.1$1"
    );
}

#[test]
fn a_code_is_at_most_255_characters() {
    let address: SmdpAddress = "smdp.example.com".parse().unwrap();
    let longest = "A".repeat(MAX_ACTIVATION_CODE_LEN - "1$smdp.example.com$".len());
    let code = ActivationCode::new(address.clone(), longest.parse().unwrap()).unwrap();
    assert_eq!(code.render().len(), MAX_ACTIVATION_CODE_LEN);
    assert_eq!(
        code.with_confirmation_code_required(),
        Err(CodeError::TooLong { len: 258 })
    );
    let too_long = format!("{longest}B");
    assert_eq!(
        ActivationCode::new(address, too_long.parse().unwrap()),
        Err(CodeError::TooLong { len: 256 })
    );
    assert_eq!(
        format!("1$smdp.example.com${too_long}").parse::<ActivationCode>(),
        Err(CodeError::TooLong { len: 256 })
    );
}

#[test]
fn malformed_codes_are_refused_with_a_reason() {
    let cases: [(&str, CodeError); 16] = [
        ("", CodeError::UnsupportedFormat),
        ("2$SMDP.GSMA.COM$ABC", CodeError::UnsupportedFormat),
        ("LPA:$SMDP.GSMA.COM$ABC", CodeError::UnsupportedFormat),
        ("1$SMDP.GSMA.COM", CodeError::MissingFields),
        ("1", CodeError::MissingFields),
        (
            "1$SMDP.GSMA.COM$ABC$1.2$1$X",
            CodeError::TooManyFields { found: 6 },
        ),
        (
            "1$SMDP.GSMA.COM$$1.3.6.1.4.1.31746",
            CodeError::MissingMatchingId,
        ),
        ("1$SMDP.GSMA.COM$ABC$", CodeError::EmptyField),
        ("1$SMDP.GSMA.COM$ABC$$", CodeError::EmptyField),
        ("1$SMDP.GSMA.COM$ABC$1.2$0", CodeError::ConfirmationFlag),
        (
            "1$SMDP.GSMA.COM$abc",
            CodeError::MatchingIdCharacter { position: 1 },
        ),
        (
            "1$SMDP.GSMA.COM$AB C",
            CodeError::MatchingIdCharacter { position: 3 },
        ),
        ("1$$ABC", CodeError::AddressEmpty),
        ("1$SMDP$ABC", CodeError::AddressNotQualified),
        ("1$SMDP.GSMA.COM:0$ABC", CodeError::AddressPort),
        ("1$SMDP.GSMA.COM$ABC$1.03$1", CodeError::Oid),
    ];
    for (text, error) in cases {
        assert_eq!(text.parse::<ActivationCode>(), Err(error), "{text:?}");
    }
}

#[test]
fn matching_ids_follow_sgp22() {
    assert!("QR-G-5C-KR-1JXF5".parse::<MatchingId>().is_ok());
    assert_eq!("".parse::<MatchingId>(), Err(CodeError::MatchingIdEmpty));
    assert_eq!(
        "qr-g-5c".parse::<MatchingId>(),
        Err(CodeError::MatchingIdCharacter { position: 1 })
    );
    assert_eq!(
        "AB_C".parse::<MatchingId>(),
        Err(CodeError::MatchingIdCharacter { position: 3 })
    );
    assert!("A".repeat(255).parse::<MatchingId>().is_ok());
    assert_eq!(
        "A".repeat(256).parse::<MatchingId>(),
        Err(CodeError::MatchingIdTooLong { len: 256 })
    );
}

#[test]
fn confirmation_codes_are_digits() {
    assert_eq!(
        "1234"
            .parse::<ConfirmationCode>()
            .map(|c| c.expose().to_owned()),
        Ok("1234".to_owned())
    );
    assert_eq!(
        "123".parse::<ConfirmationCode>(),
        Err(CodeError::ConfirmationCodeLength { len: 3 })
    );
    assert_eq!(
        "1".repeat(17).parse::<ConfirmationCode>(),
        Err(CodeError::ConfirmationCodeLength { len: 17 })
    );
    assert_eq!(
        "12a4".parse::<ConfirmationCode>(),
        Err(CodeError::ConfirmationCodeCharacter { position: 3 })
    );
    assert_eq!(
        "１２３４".parse::<ConfirmationCode>(),
        Err(CodeError::ConfirmationCodeCharacter { position: 1 })
    );
}

#[test]
fn sm_dp_addresses_are_domain_names() {
    for good in [
        "SMDP.GSMA.COM",
        "smdp.example.com",
        "rsp-1.example.co.jp",
        "127.0.0.1:8443",
        "smdp.test:65535",
    ] {
        assert_eq!(
            good.parse::<SmdpAddress>().map(|a| a.to_string()),
            Ok(good.into())
        );
    }
    let bad = [
        ("", CodeError::AddressEmpty),
        ("localhost", CodeError::AddressNotQualified),
        ("smdp..example.com", CodeError::AddressLabel { part: 2 }),
        ("-smdp.example.com", CodeError::AddressLabel { part: 1 }),
        ("smdp.example.com.", CodeError::AddressLabel { part: 4 }),
        (
            "smdp_1.example.com",
            CodeError::AddressCharacter { position: 5 },
        ),
        ("https://smdp.example.com", CodeError::AddressScheme),
        ("smdp.example.com:x", CodeError::AddressPort),
        ("smdp.example.com:", CodeError::AddressPort),
        ("smdp.example.com:65536", CodeError::AddressPort),
        ("smdp.example.com:08443", CodeError::AddressPort),
    ];
    for (text, error) in bad {
        assert_eq!(text.parse::<SmdpAddress>(), Err(error), "{text:?}");
    }
    let long_label = format!("{}.com", "a".repeat(64));
    assert_eq!(
        long_label.parse::<SmdpAddress>(),
        Err(CodeError::AddressLabel { part: 1 })
    );
    let long_name = format!("{}com", "abcdefghi.".repeat(26));
    assert_eq!(
        long_name.parse::<SmdpAddress>(),
        Err(CodeError::AddressTooLong { len: 263 })
    );
}

#[test]
fn oids_are_dotted_numbers() {
    for good in ["1.3.6.1.4.1.31746", "2.999", "0.0"] {
        assert_eq!(
            good.parse::<SmdpOid>().map(|o| o.to_string()),
            Ok(good.into())
        );
    }
    for bad in ["", "1", "3.1", "1..2", "1.2.", "1.a", "1.02"] {
        assert_eq!(bad.parse::<SmdpOid>(), Err(CodeError::Oid), "{bad:?}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let code: ActivationCode = SPEC_EXAMPLES[2].parse().unwrap();
    let shown = format!("{code:?} {:?} {:#?}", code.matching_id(), code);
    assert!(!shown.contains("AGYFT"), "{shown}");
    assert!(
        shown.contains("SMDP.GSMA.COM") && shown.contains("****"),
        "{shown}"
    );
    let cc: ConfirmationCode = "918273".parse().unwrap();
    let shown = format!("{cc:?}");
    assert!(!shown.contains("918273"), "{shown}");
}

// ---- Activation code properties -------------------------------------------------------------

fn label() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9-]{0,12}[A-Za-z0-9])?"
}

fn address() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 2..5),
        prop::option::of(1u16..=u16::MAX),
    )
        .prop_map(|(labels, port)| {
            let host = labels.join(".");
            match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
}

fn matching_id() -> impl Strategy<Value = String> {
    "[0-9A-Z][0-9A-Z-]{0,63}"
}

fn oid() -> impl Strategy<Value = String> {
    ("[0-2]", prop::collection::vec(0u32..100_000, 1..8)).prop_map(|(first, arcs)| {
        let rest: Vec<String> = arcs.iter().map(u32::to_string).collect();
        format!("{first}.{}", rest.join("."))
    })
}

fn code_text() -> impl Strategy<Value = String> {
    (
        address(),
        matching_id(),
        prop::option::of(oid()),
        any::<bool>(),
    )
        .prop_map(|(address, id, oid, flag)| match (oid, flag) {
            (None, false) => format!("1${address}${id}"),
            (Some(oid), false) => format!("1${address}${id}${oid}"),
            (None, true) => format!("1${address}${id}$$1"),
            (Some(oid), true) => format!("1${address}${id}${oid}$1"),
        })
}

proptest! {
    #[test]
    fn activation_codes_read_back_as_rendered(text in code_text(), qr in any::<bool>()) {
        let given = if qr { format!("LPA:{text}") } else { text.clone() };
        let code: ActivationCode = given.parse().unwrap();
        prop_assert_eq!(code.render(), text.clone());
        prop_assert_eq!(code.lpa_uri(), format!("LPA:{text}"));
        prop_assert_eq!(code.lpa_uri().parse::<ActivationCode>(), Ok(code.clone()));
        let rebuilt = ActivationCode::new(code.smdp_address().clone(), code.matching_id().clone())
            .and_then(|c| match code.smdp_oid() {
                Some(oid) => c.with_smdp_oid(oid.clone()),
                None => Ok(c),
            })
            .and_then(|c| if code.confirmation_code_required() {
                c.with_confirmation_code_required()
            } else {
                Ok(c)
            });
        prop_assert_eq!(rebuilt, Ok(code.clone()));
        let expected = format!(
            "ActivationCode {{ smdp_address: {:?}, matching_id: ****, smdp_oid: {:?}, \
             confirmation_code_required: {} }}",
            code.smdp_address().as_str(),
            code.smdp_oid().map(SmdpOid::as_str),
            code.confirmation_code_required(),
        );
        prop_assert_eq!(format!("{:?}", code), expected);
    }

    #[test]
    fn a_lower_case_matching_id_is_refused(address in address(), id in "[a-z][0-9a-z-]{0,20}") {
        let text = format!("1${address}${id}");
        prop_assert_eq!(
            text.parse::<ActivationCode>(),
            Err(CodeError::MatchingIdCharacter { position: 1 })
        );
    }
}

proptest! {
    #![proptest_config(config(PARSER_CASES))]

    /// Any text is an activation code that renders as it reads, or a reason that shows no part
    /// of it.
    #[test]
    fn any_text_is_a_code_or_a_reason(text in text()) {
        check_code(&text)?;
    }

    /// Edited codes: a code that still reads renders back to itself; one that does not is
    /// refused with a reason that does not give the matching ID away.
    #[test]
    fn an_edited_code_is_a_code_or_a_reason(
        code in code_text(),
        edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), edit_char()), 1..4),
    ) {
        let original: ActivationCode = code.parse().unwrap();
        let mut text = code;
        for (edit, at, with) in edits {
            text = mutate(&text, edit, at, with);
        }
        match text.parse::<ActivationCode>() {
            Ok(parsed) => prop_assert_eq!(parsed.render().parse::<ActivationCode>(), Ok(parsed)),
            Err(error) => {
                let message = error.to_string();
                let secret = original.matching_id().expose();
                prop_assert!(secret.len() < 4 || !message.contains(secret), "{}", message);
            }
        }
    }
}

fn check_code(text: &str) -> Result<(), TestCaseError> {
    match text.parse::<ActivationCode>() {
        Ok(code) => {
            let rendered = code.render();
            prop_assert_eq!(rendered.parse::<ActivationCode>(), Ok(code.clone()));
            prop_assert!(rendered.chars().count() <= MAX_ACTIVATION_CODE_LEN);
        }
        Err(error) => {
            let message = error.to_string();
            // The longest fixed text of any reason, plus the numbers in it.
            prop_assert!(message.chars().count() < 300, "{}", message);
            let trimmed = text.trim();
            if trimmed.chars().count() >= 12 {
                prop_assert!(!message.contains(trimmed), "{}", message);
            }
        }
    }
    let _ = text.parse::<MatchingId>();
    let _ = text.parse::<ConfirmationCode>();
    let _ = text.parse::<SmdpAddress>();
    let _ = text.parse::<SmdpOid>();
    Ok(())
}
