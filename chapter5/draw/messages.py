"""The page's error lines in Korean, for a page shown in Korean (it sends ``Accept-Language: ko``).

Every line the server answers with is written in English where it is made (the library's errors, the routes'
checks); :func:`korean` turns the lines a reader of the page meets into Korean by their form, the names, numbers
and paths in them kept. A line of another form (a damaged ``flags.cfg``'s detail) stays as it was.
"""

from __future__ import annotations

import re

#: (the English line's form, its Korean), tried in order; ``{0}``... are the form's groups.
FORMS = (
    (r"no run (.+) in (.+)", "{1}에 {0} 실행이 없습니다"),
    (r"run (.+) has not been evaluated yet: (.+)", "{0} 실행은 아직 평가하지 않았습니다. 평가하는 명령: {1}"),
    (r"(.+) has no checkpoint at step (\d+) \(it has (.+)\)",
     "{0}에는 스텝 {1}의 체크포인트가 없습니다(있는 스텝: {2})"),
    (r"no checkpoint in (.+)", "{0}에 체크포인트가 없습니다"),
    (r"(.+) holds checkpoints but none is readable: (.+); nothing was changed",
     "{0}의 체크포인트를 하나도 끝까지 읽을 수 없습니다: {1}. 아무것도 바꾸지 않았습니다"),
    (r"(.+) cannot be read: (.+); its files are left in place",
     "{0}을(를) 읽을 수 없습니다: {1}. 파일은 그대로 둡니다"),
    (r"(.+) cannot be read: (.+)", "{0}을(를) 읽을 수 없습니다: {1}"),
    (r"the picture sent: empty file", "보낸 그림: 빈 파일입니다"),
    (r"the picture sent: not a (.+) image", "보낸 그림: {0} 이미지가 아닙니다"),
    (r"the picture sent: no digit found: the image is blank", "보낸 그림: 숫자를 찾지 못했습니다. 빈 그림입니다"),
    (r"the picture sent: cannot decode the image \((.+)\)", "보낸 그림: 이미지를 디코딩할 수 없습니다({0})"),
    (r"the picture sent: (\d+) MB is too large for a digit image \(limit (\d+) MB\)",
     "보낸 그림: {0} MB는 숫자 그림으로 너무 큽니다(한도 {1} MB)"),
    (r"the picture sent: (\d+x\d+) pixels is not a usable digit image \(limit (\d+) megapixels\)",
     "보낸 그림: {0} 픽셀은 쓸 수 있는 숫자 그림이 아닙니다(한도 {1}메가픽셀)"),
    (r"the picture is larger than (\d+) MB", "그림이 {0} MB보다 큽니다"),
    (r"refused: this server answers requests to (.+), not to (.+?) \(.*\)",
     "거절함: 이 서버는 {0}(으)로 온 요청에만 답하고 {1}(으)로 온 요청에는 답하지 않습니다"
     "(네트워크에 열려면 --host로, TensorBoard라면 --bind_all로 시작하세요)"),
    (r"checkpoint=(.+): give a checkpoint's global step, a whole number",
     "checkpoint={0}: 체크포인트의 전역 스텝을 정수로 주세요"),
    (r"unit=(.+?): give a map's row,column,channel or one index for fc and output, whole numbers",
     "unit={0}: 맵이면 행,열,채널을, fc와 output이면 인덱스 하나를 정수로 주세요"),
    (r"unit=(.+) is not a unit of (.+), whose output is (.+): give (.+), each from 0",
     "unit={0}은(는) 출력이 {2}인 {1}의 유닛이 아닙니다. 각각 0부터 센 {3}을(를) 주세요"),
    (r"layer=(.+) is not a layer of (.+): it has (.+)", "layer={0}은(는) {1}의 층이 아닙니다. 있는 층: {2}"),
    (r"method=(.+) is not one of (.+)", "method={0}은(는) 없는 방법입니다. 있는 방법: {1}"),
    (r"(target|contrast)=(.+) is not a class of (.+): give 0 to (\d+) or a name \((.+)\)",
     "{0}={1}은(는) {2}의 클래스가 아닙니다. 0에서 {3}까지의 수나 이름({4})을 주세요"),
    (r"(target|contrast)=(.+) is not a class: give 0 to (\d+)",
     "{0}={1}은(는) 클래스가 아닙니다. 0에서 {2}까지 주세요"),
    (r"contrast=(.+) is the target itself: give another class, or none",
     "contrast={0}은(는) 설명할 클래스와 같습니다. 다른 클래스를 주거나 비워 두세요"),
    (r"grad_cam weighs a convolution's maps: (.+) has none",
     "grad_cam은 합성곱층의 맵에 가중치를 줍니다. {0}에는 합성곱층이 없습니다"),
    (r"internal error: the server's terminal says more", "내부 오류: 자세한 내용은 서버의 터미널에 있습니다"),
    (r"Not Found: (.+)", "찾을 수 없음: {0}"),
    (r"Method Not Allowed: (.+)", "허용되지 않는 메서드: {0}"),
)

#: What the page adds after a line about a checkpoint it could not load.
KEPT = ("; the page keeps the network it had", ". 페이지는 쓰던 신경망을 그대로 씁니다")


def korean(line: str) -> str:
    """``line`` in Korean, if it has one of :data:`FORMS` (else as it is)."""
    suffix = ""
    if line.endswith(KEPT[0]):
        line, suffix = line[:-len(KEPT[0])], KEPT[1]
    for form, template in FORMS:
        match = re.fullmatch(form, line)
        if match:
            return template.format(*match.groups()) + suffix
    return line + (KEPT[0] if suffix else "")
