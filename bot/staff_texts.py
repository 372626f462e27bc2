"""Every sentence the bot says to the center's staff: broadcasts, statistics, teaching
the bot, drafts and replies in the staff chat, `bot stats` in the terminal.

What citizens read is in bot/texts.py; the two together are every sentence the bot says.
Staff are the center's own people, so these may name commands and figures plainly.
Templates are filled with `str.format(**fields)`; the field names in braces must stay.
"""

from __future__ import annotations

# --- staff ------------------------------------------------------------------------------

STAFF_ONLY = "Chức năng này chỉ dành cho cán bộ Trung tâm."
BROADCAST_USAGE = (
    "Cách gửi thông báo: /guithongbao <nội dung>, hoặc trả lời một tin nhắn bằng "
    "/guithongbao. Thêm #chude ở đầu để chỉ gửi người theo dõi chủ đề đó, ví dụ "
    "“/guithongbao #dat-dai Từ 1/12 ...”. Chủ đề: {topics}."
)
BROADCAST_NO_TOPICS = "chưa cấu hình"
BROADCAST_PREVIEW_HEADING = "Xem trước thông báo"
BROADCAST_AUDIENCE = "Sẽ gửi tới {count} người ({audience}): {by_channel}."
BROADCAST_AUDIENCE_ALL = "tất cả người đăng ký"
BROADCAST_AUDIENCE_TOPIC = "chủ đề {label}"
BROADCAST_CONFIRM = "Bấm “Gửi ngay” để gửi, hoặc “Hủy”."
BROADCAST_EMPTY_AUDIENCE = "Chưa có ai nhận được thông báo này; không gửi."
BROADCAST_UNKNOWN_TOPIC = "Không có chủ đề “{topic}”. Các chủ đề: {topics}."
BROADCAST_INVALID = "Không gửi được thông báo này: {reason}."
BROADCAST_NO_CHANNEL = "Chưa cấu hình kênh nào gửi được thông báo (Telegram, Zalo)."
BUTTON_CONFIRM_SEND = "✅ Gửi ngay"
BUTTON_CANCEL = "✖ Hủy"
BUTTON_CANCEL_JOB = "⏹ Dừng gửi"
BUTTON_REFRESH = "↻ Cập nhật"
BROADCAST_CANCELLED_DRAFT = "Đã hủy, không gửi thông báo nào."
BROADCAST_DRAFT_EXPIRED = "Bản nháp này đã hết hạn. Hãy gửi lại lệnh /guithongbao."
BROADCAST_PROGRESS = (
    "Thông báo #{job}: đã gửi {sent}/{total}, lỗi {failed}, bị chặn {blocked}, còn lại {left}."
)
BROADCAST_DONE = (
    "Đã gửi xong thông báo #{job}: thành công {sent}/{total}, lỗi {failed}, "
    "bị chặn {blocked}, đã dừng {cancelled}."
)
BROADCAST_STOPPED = "Đã dừng thông báo #{job}: đã gửi {sent}, không gửi {cancelled}."
BROADCAST_ALREADY_FINISHED = "Thông báo #{job} đã gửi xong từ trước."
BROADCAST_JOB_UNKNOWN = "Không có thông báo #{job}."

STATS_HEADING = "Thống kê {days} ngày ({since} – {until})"
STATS_QUESTIONS = "Câu hỏi: {total}; trả lời được {answered}, chưa trả lời được {declined}."
STATS_TOP_HEADING = "Thủ tục được hỏi nhiều nhất"
STATS_TOP_LINE = "{rank}. {name} — {count} lượt"
STATS_UNANSWERED_HEADING = "Câu hỏi chưa trả lời được (để bổ sung từ khóa)"
STATS_UNANSWERED_LINE = "• {text} ({count} lần)"
STATS_FEEDBACK = "Câu trả lời được đánh giá hữu ích: {share} ({total} lượt đánh giá)."
STATS_SATISFACTION = "Hài lòng (4–5 sao): {share}, điểm trung bình {average} ({total} lượt)."
STATS_LOOKUPS = "Tra cứu hồ sơ: {total} lượt, {dossiers} hồ sơ."
STATS_SUBSCRIBERS = (
    "Người nhận thông báo: {active} đang nhận, {opted_out} đã hủy, {blocked} đã chặn."
)
STATS_BROADCASTS = "Thông báo đã gửi: {jobs} đợt, {sent}/{recipients} tin thành công."
STATS_NONE = "chưa có"
STATS_GUESSING_HEADING = "⚠️ Hồ sơ bị dò mã xác minh (nhập sai từ nhiều cuộc trò chuyện)"
STATS_GUESSING_LINE = (
    "• {code}: sai {failures} lần từ {chats} cuộc trò chuyện; địa chỉ: {addresses}"
)
STATS_NO_DATA = "Chưa có dữ liệu thống kê."
CHART_QUESTIONS_TITLE = "Câu hỏi mỗi ngày"
CHART_ANSWERED = "trả lời được"
CHART_CLARIFIED = "đưa lựa chọn"
CHART_DECLINED = "chưa trả lời được"
CHART_SATISFACTION_TITLE = "Mức độ hài lòng (đánh giá hồ sơ đã trả kết quả)"
CHART_SATISFIED_SHARE = "hài lòng (4–5 sao), %, 7 ngày gần nhất"
CHART_AVERAGE = "điểm trung bình (1–5), 7 ngày gần nhất"
CHART_TARGET = "mục tiêu 90%"
CHART_NO_RATINGS = "chưa có đánh giá trong kỳ"

# `bot stats`: the same figures as a table in the staff's terminal (columns are aligned by
# bot/stats/report.py; keep each label short).
REPORT_HEADING = "Thống kê từ {since} đến {until} ({days} ngày)"
REPORT_QUESTIONS = "Câu hỏi: {total} (trả lời được {answered}, chưa trả lời được {declined})"
REPORT_NO_QUESTIONS = "Câu hỏi: chưa có"
REPORT_DAY = "Ngày"
REPORT_WEEK = "Tuần từ"
REPORT_ASKED = "Số câu"
REPORT_ANSWERED = "Trả lời"
REPORT_CLARIFIED = "Lựa chọn"
REPORT_DECLINED = "Chưa trả lời"
REPORT_NONE = "(chưa có)"
REPORT_TIMES = "lần"
REPORT_FEEDBACK = (
    "Đánh giá câu trả lời: {helpful} hữu ích, {not_helpful} không hữu ích ({share} hữu ích)"
)
REPORT_FEEDBACK_PROCEDURE = "không hữu ích {not_helpful:>4}, hữu ích {helpful:>4}"
REPORT_NO_FEEDBACK = "Đánh giá câu trả lời: chưa có"
REPORT_SATISFACTION = (
    "Hài lòng: {ratings} lượt đánh giá, {share} hài lòng (4–5 sao), điểm trung bình {average}/5"
)
REPORT_RATINGS_BY_SCORE = "số lượt theo điểm: {spread}"
REPORT_NO_RATINGS = "Hài lòng: chưa có đánh giá"
REPORT_LOOKUPS = "Tra cứu hồ sơ: {total} lượt, {dossiers} hồ sơ khác nhau"
# What became of the lookups (the audit's outcomes).
REPORT_LOOKUP_OUTCOMES = {
    "found": "tìm thấy",
    "verification_needed": "chờ xác minh",
    "not_found": "không có hồ sơ",
    "mismatch": "sai thông tin xác minh",
    "locked_out": "bị tạm khóa",
    "rate_limited": "quá số lần tra cứu",
    "unavailable": "hệ thống không trả lời",
    "history": "xem quá trình xử lý",
    "dossier_guarded": "hồ sơ đang phải chờ",
    "address_guarded": "địa chỉ đang phải chờ",
    "lookups_paused": "tạm dừng xác minh",
}
# Under STATS_GUESSING_HEADING: a dossier someone is guessing the digits of.
REPORT_GUESSING_LINE = (
    "{code}  sai {failures} lần từ {chats} cuộc trò chuyện; địa chỉ {addresses}; "
    "phải chờ đến {until}"
)
REPORT_MORE_ADDRESSES = " và {count} địa chỉ khác"
REPORT_SUBSCRIBERS = "Người nhận thông báo"
REPORT_ACTIVE = "đang nhận"
REPORT_OPTED_OUT = "đã hủy"
REPORT_BLOCKED = "đã chặn"
REPORT_BROADCASTS = (
    "Thông báo: {jobs} đợt, {recipients} người nhận: đã gửi {sent}, lỗi {failed}, "
    "bị chặn {blocked}, đã dừng {cancelled}"
)
REPORT_CHART_WRITTEN = "Đã vẽ biểu đồ vào {path}"


# --- staff: teaching the bot (/day) -----------------------------------------------------

TEACH_INTRO = (
    "{count} câu hỏi gần đây bot chưa trả lời được hoặc người dân bấm “Không phải”. "
    "Chọn thủ tục đúng cho từng câu; nếu không có trong các nút, gõ /day <số câu> <mã thủ "
    "tục>, ví dụ /day 125 3.000333. Bot dùng ngay từ lần hỏi sau."
)
TEACH_QUESTION = "#{row} «{text}» ({count} lần)"
TEACH_USAGE = (
    "Cách dạy: /day <số câu> <mã thủ tục>, ví dụ /day 125 3.000333; "
    "/day <số câu> - nếu câu hỏi không thuộc Trung tâm. Gõ /day để xem các câu cần dạy."
)
TEACH_UNKNOWN_QUESTION = "Không có câu hỏi số {row}. Gõ /day để xem các câu cần dạy."
TEACH_UNKNOWN_PROCEDURE = "Không có thủ tục mã {code} trong danh mục."
TEACH_NOTHING = "Không có câu hỏi nào cần dạy trong {days} ngày qua."
TEACH_DONE = "Đã ghi: «{text}» → {meaning}."
TEACH_MEANING_NOT_OURS = "không thuộc thủ tục của Trung tâm"
BUTTON_NOT_OURS = "Không thuộc Trung tâm"
