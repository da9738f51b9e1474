# simdesk 해지 영수증 — 한국어

receipt-title = 해지 영수증
receipt-number = 영수증 번호
receipt-carrier = 통신사
receipt-effective-date = 해지 효력 발생일
receipt-usage-counted-until = 사용량 집계 시점
receipt-issued = 발행 일시
receipt-request = 신청 번호
receipt-channel = 접수 경로
receipt-customer = 고객 번호
receipt-line = 회선
receipt-iccid = ICCID
receipt-msisdn = 전화번호
receipt-plan = 요금제
receipt-addons-unbound = 해제된 부가 서비스
receipt-none = 없음
receipt-refund = 환불
receipt-refund-rule = 환불 규정
receipt-refund-items = 환불 내역
receipt-total = 합계
receipt-credited-to = 환불 입금처
receipt-policy-version = 정책 버전
receipt-signature = 전자 서명
receipt-key-id = 키 ID
receipt-verify = 영수증 JSON 파일에 대해 { $command } 명령을 실행하면 검증할 수 있습니다.

receipt-channel-web = 웹(셀프서비스)
receipt-channel-hotline = 전화 상담 센터
receipt-channel-store = 매장 창구
receipt-channel-api = 통신사 시스템(API)
receipt-channel-operator = 통신사 담당자
receipt-channel-system = 자동 처리(simdesk)

receipt-rule-full = 남은 금액 전액 환불
receipt-rule-pro_rata = 남은 유효 기간에 비례한 환불
receipt-rule-fee_and_minimum = 남은 금액에서 해지 수수료를 뺀 금액 환불(최소 금액 미만은 환불 없음)
receipt-rule-none = 환불 없음

receipt-credited-e-wallet = 고객님의 simdesk 전자 지갑
receipt-credited-nothing-due = 환불 대상 없음
