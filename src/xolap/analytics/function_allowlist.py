"""Which ClickHouse functions user SQL may call: an allowlist, so every name not listed here is refused.

The lists classify every function ClickHouse 26.9 (chDB 4.4) names in system.functions, aliases included, by its
system.functions category (tests/analytics/test_guard_functions.py checks both lists against system.functions, so a
new ClickHouse version cannot add a name nobody looked at, and an alias is classified like the function it names).
Names compare case-insensitively; an aggregate function may carry combinator suffixes (sumIf, uniqExactMerge,
quantilesOrNull, ...), but only on an allowed aggregate.

Allowed: aggregates and their combinators, arithmetic, comparison, logical, conditional, NULL handling, math,
rounding, bit, string, string search/replace/split, encoding, hashing, dates and times (now(), today() and other clock
readings included), type conversion, arrays and higher-order array functions, tuples, maps, JSON, URL strings, IP and
UUID strings, distances, financial, bitmaps, random numbers, and a short list of harmless "Other" functions.

Refused (REFUSED_FUNCTIONS, or simply unknown): anything that reads server, session, user, host, settings or query
state (currentUser and its aliases user/session_user/authUser, hostName/FQDN/fullHostName, getSetting, version,
timezone, serverTimezone, queryID, uptime, ...); other tables, dictionaries, files or the network (dictGet*, joinGet,
hasColumnInTable, file, the function forms of IN: in, globalIn, notNullIn, ...); introspection and internals
(addressToSymbol, tid, logTrace, __getScalar, _CAST, ...); generators with server-wide state (generateSerialID in
Keeper; generateSnowflakeID, generateUUIDv7 and dateTimeToUUIDv7 share a per-server counter);
AI, machine learning, encryption, geo, time-series and KQL families; formatRow/groupFormat (arbitrary output formats).

Cost choices (the executor bounds time, memory and rows; but max_execution_time is only checked between blocks, so
work inside one block must be bounded by what a row can cost):
- Refused because one row can cost quadratic time: editDistance/levenshteinDistance, damerauLevenshteinDistance,
  jaroSimilarity, jaroWinklerSimilarity, arrayLevenshteinDistance*, arraySimilarity, arrayFold (an accumulator copied
  per element), and the hyperscan matchers multiMatch*/multiFuzzyMatch* (automaton compile cost of user regexps).
- Refused as bulk generators with no use here: mapPopulateSeries, randomString*, randomFixedString,
  randomPrintableASCII, fuzzBits.
- Allowed, bounded by the executor: range (function_range_max_elements_in_block), arrayWithConstant, arrayResize,
  repeat, space, leftPad/rightPad, timeSlots (each element or byte they create costs memory, capped by
  max_memory_usage). Refusing them by name would not close the class (splitByChar over a long string builds as large
  an array), so the bound belongs to the executor: per-element work on a large array is linear in its size, and the
  executor's per-block caps decide the worst case.
"""

from __future__ import annotations

from functools import lru_cache

# Allowed names by system.functions category (an alias sits with the function it names).
_ALLOWED_BY_CATEGORY: dict[str, str] = {
    "Aggregate Functions": """
        analysisOfVariance anova any any_respect_nulls any_value any_value_respect_nulls anyHeavy anyLast
        anyLast_respect_nulls anyLastRespectNulls anyRespectNulls anyValueRespectNulls approx_top_count
        approx_top_k approx_top_sum argAndMax argAndMin argMax argMin array_agg array_concat_agg avg
        avgWeighted BIT_AND BIT_OR BIT_XOR boundingRatio categoricalInformationValue contingency corr
        corrMatrix corrStable count COVAR_POP COVAR_SAMP covarPop covarPopMatrix covarPopStable covarSamp
        covarSampMatrix covarSampStable cramersV cramersVBiasCorrected cume_dist deltaSum deltaSumTimestamp
        dense_rank denseRank distinctDynamicTypes distinctJSONPaths distinctJSONPathsAndTypes entropy
        estimateCompressionRatio exponentialMovingAverage exponentialTimeDecayedAvg
        exponentialTimeDecayedCount exponentialTimeDecayedMax exponentialTimeDecayedSum first_value
        first_value_respect_nulls firstValueRespectNulls gini group_concat groupArray groupArrayInsertAt
        groupArrayIntersect groupArrayLast groupArrayMovingAvg groupArrayMovingSum groupArraySample
        groupArraySorted groupBitAnd groupBitmap groupBitmapAnd groupBitmapOr groupBitmapXor groupBitOr
        groupBitXor groupConcat groupUniqArray histogram intervalLengthSum kolmogorovSmirnovTest kurtPop
        kurtSamp lag lagInFrame largestTriangleThreeBuckets last_value last_value_respect_nulls
        lastValueRespectNulls lead leadInFrame lttb mannWhitneyUTest max max_by maxIntersections
        maxIntersectionsPosition maxMappedArrays meanZTest median medianBFloat16 medianBFloat16Weighted
        medianDD medianDeterministic medianExact medianExactHigh medianExactLow medianExactWeighted
        medianExactWeightedInterpolated medianGK medianInterpolatedWeighted medianTDigest
        medianTDigestWeighted medianTiming medianTimingWeighted mergedJSONPatch min min_by minMappedArrays
        nonNegativeDerivative nothing nothingNull nothingUInt64 nth_value ntile percent_rank percentRank
        quantile quantileBFloat16 quantileBFloat16Weighted quantileDD quantileDeterministic quantileExact
        quantileExactExclusive quantileExactHigh quantileExactInclusive quantileExactLow
        quantileExactWeighted quantileExactWeightedInterpolated quantileGK quantileInterpolatedWeighted
        quantilePrometheusHistogram quantiles quantilesBFloat16 quantilesBFloat16Weighted quantilesDD
        quantilesDeterministic quantilesExact quantilesExactExclusive quantilesExactHigh
        quantilesExactInclusive quantilesExactLow quantilesExactWeighted quantilesExactWeightedInterpolated
        quantilesGK quantilesInterpolatedWeighted quantilesPrometheusHistogram quantilesTDigest
        quantilesTDigestWeighted quantilesTiming quantilesTimingWeighted quantileTDigest
        quantileTDigestWeighted quantileTiming quantileTimingWeighted rank rankCorr regr_avgx regr_avgy
        regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy retention row_number
        sequenceCount sequenceMatch sequenceMatchEvents sequenceNextNode simpleLinearRegression
        singleValueOrNull skewPop skewSamp sparkbar sparkBar STD STDDEV STDDEV_POP STDDEV_SAMP stddevPop
        stddevPopStable stddevSamp stddevSampStable string_agg studentTTest studentTTestOneSample sum
        sumCount sumKahan sumMapFiltered sumMapFilteredWithOverflow sumMappedArrays sumMapWithOverflow
        sumWithOverflow theilsU timeSeriesAvgToGrid timeSeriesBottomKMasks timeSeriesChangesToGrid
        timeSeriesCountToGrid timeSeriesDeltaToGrid timeSeriesDerivToGrid timeSeriesGroupArray
        timeSeriesIncreaseToGrid timeSeriesInstantDeltaToGrid timeSeriesInstantRateToGrid
        timeSeriesLastToGrid timeSeriesLastTwoSamples timeSeriesLimitKMasks timeSeriesMaxToGrid
        timeSeriesMinToGrid timeSeriesPredictLinearToGrid timeSeriesRateToGrid
        timeSeriesResampleToGridWithStaleness timeSeriesResetsToGrid timeSeriesSumToGrid
        timeSeriesTimestampOfMaxToGrid timeSeriesTimestampOfMinToGrid timeSeriesTopKMasks topK topKWeighted
        uniq uniqCombined uniqCombined64 uniqExact uniqHLL12 uniqUpTo VAR_POP VAR_SAMP varPop varPopStable
        varSamp varSampStable welchTTest windowFunnel
    """,
    "Arithmetic": """
        abs avg2 byteSwap divide divideDecimal divideOrNull gcd ifNotFinite intDiv intDivOrNull intDivOrZero
        isFinite isInfinite isNaN lcm max2 midpoint min2 minus mod modOrNull modulo moduloLegacy
        moduloOrNull moduloOrZero multiply multiplyDecimal negate plus pmod pmodOrNull positive_modulo
        positive_modulo_or_null positiveModulo positiveModuloOrNull sqr
    """,
    "Arrays": """
        array array_remove arrayAll arrayAUC arrayAUCPR arrayAutocorrelation arrayAvg arrayBottomK
        arrayCompact arrayConcat arrayCount arrayCumSum arrayCumSumNonNegative arrayDifference arrayDistinct
        arrayDotProduct arrayElement arrayElementOrNull arrayEnumerate arrayEnumerateDense
        arrayEnumerateDenseRanked arrayEnumerateUniq arrayEnumerateUniqRanked arrayExcept arrayExists
        arrayFill arrayFilter arrayFirst arrayFirstIndex arrayFirstOrNull arrayFlatten arrayFlattenedLength
        arrayIntersect arrayJaccardIndex arrayJoin arrayLast arrayLastIndex arrayLastOrNull arrayMap
        arrayMax arrayMin arrayNormalizedGini arrayPartialReverseSort arrayPartialShuffle arrayPartialSort
        arrayPopBack arrayPopFront arrayPRAUC arrayProduct arrayPushBack arrayPushFront arrayRandomSample
        arrayReduce arrayReduceInRanges arrayRemove arrayResize arrayReverse arrayReverseFill
        arrayReverseSort arrayReverseSplit arrayROCAUC arrayRotateLeft arrayRotateRight arrayShiftLeft
        arrayShiftRight arrayShingles arrayShuffle arraySlice arraySort arraySplit arraySum
        arraySymmetricDifference arrayTopK arrayTranspose arrayUnion arrayUniq arrayWithConstant arrayZip
        arrayZipUnaligned CARDINALITY countEqual empty emptyArrayDate emptyArrayDateTime emptyArrayFloat32
        emptyArrayFloat64 emptyArrayInt16 emptyArrayInt32 emptyArrayInt64 emptyArrayInt8 emptyArrayString
        emptyArrayToSingle emptyArrayUInt16 emptyArrayUInt32 emptyArrayUInt64 emptyArrayUInt8 flatten has
        hasAll hasAny hasSubstr indexOf indexOfAssumeSorted length notEmpty notHas OCTET_LENGTH
        randomHadamardTransform range replicate reverse unnest
    """,
    "Bit": """
        bitAnd bitCount bitHammingDistance bitNot bitOr bitRotateLeft bitRotateRight bitShiftLeft
        bitShiftRight bitSlice bitTest bitTestAll bitTestAny bitXor
    """,
    "Bitmap": """
        bitmapAnd bitmapAndCardinality bitmapAndnot bitmapAndnotCardinality bitmapBuild bitmapCardinality
        bitmapContains bitmapHasAll bitmapHasAny bitmapMax bitmapMin bitmapOr bitmapOrCardinality
        bitmapSubsetInRange bitmapSubsetLimit bitmapToArray bitmapTransform bitmapXor bitmapXorCardinality
        subBitmap
    """,
    "Comparison": """
        equals greater greaterOrEquals isDistinctFrom isNotDistinctFrom less lessOrEquals notEquals
    """,
    "Conditional": """
        caseWithoutExpr caseWithoutExpression clamp greatest if least multiIf
    """,
    "Dates and Times": """
        addDate addDays addHours addInterval addMicroseconds addMilliseconds addMinutes addMonths
        addNanoseconds addQuarters addSeconds addTupleOfIntervals addWeeks addYears age changeDay changeHour
        changeMinute changeMonth changeSecond changeYear curdate current_date current_timestamp date_bin
        DATE_DIFF date_diff DATE_FORMAT DATE_TRUNC dateDiff dateName dateTrunc DAY DAYOFMONTH DAYOFWEEK
        DAYOFYEAR formatDateTime formatDateTimeInJodaSyntax FROM_DAYS FROM_UNIXTIME from_utc_timestamp
        fromDaysSinceYearZero fromDaysSinceYearZero32 fromModifiedJulianDay fromModifiedJulianDayOrNull
        fromUnixTimestamp fromUnixTimestampInJodaSyntax fromUTCTimestamp HOUR LAST_DAY localtime
        localtimestamp makeDate makeDate32 makeDateTime makeDateTime64 MICROSECOND MILLISECOND MINUTE MONTH
        monthName NANOSECOND now now64 nowInBlock nowInBlock64 QUARTER SECOND subDate subtractDays
        subtractHours subtractInterval subtractMicroseconds subtractMilliseconds subtractMinutes
        subtractMonths subtractNanoseconds subtractQuarters subtractSeconds subtractTupleOfIntervals
        subtractWeeks subtractYears time_bucket timeDiff timeSlot timeSlots timestamp timestamp_diff
        TIMESTAMP_DIFF timestampDiff timeZoneOf timezoneOf timeZoneOffset timezoneOffset TO_DAYS
        to_utc_timestamp today toDayOfMonth toDayOfWeek toDayOfYear toDaysInMonth toDaysSinceYearZero toHour
        toISOWeek toISOYear toLastDayOfMonth toLastDayOfWeek toMicrosecond toMillisecond toMinute
        toModifiedJulianDay toModifiedJulianDayOrNull toMonday toMonth toMonthNumSinceEpoch toNanosecond
        toQuarter toRelativeDayNum toRelativeHourNum toRelativeMinuteNum toRelativeMonthNum
        toRelativeQuarterNum toRelativeSecondNum toRelativeWeekNum toRelativeYearNum toSecond toStartOfDay
        toStartOfFifteenMinutes toStartOfFiveMinute toStartOfFiveMinutes toStartOfHour toStartOfInterval
        toStartOfISOYear toStartOfMicrosecond toStartOfMillisecond toStartOfMinute toStartOfMonth
        toStartOfNanosecond toStartOfQuarter toStartOfSecond toStartOfTenMinutes toStartOfWeek toStartOfYear
        toTimeWithFixedDate toTimezone toTimeZone toUnixTimestamp toUTCTimestamp toWeek toYear
        toYearNumSinceEpoch toYearWeek toYYYYMM toYYYYMMDD toYYYYMMDDhhmmss UTC_timestamp UTCTimestamp week
        YEAR yearweek yesterday YYYYMMDDhhmmssToDateTime YYYYMMDDhhmmssToDateTime64 YYYYMMDDToDate
        YYYYMMDDToDate32
    """,
    "Distance": """
        cosineDistance cosineDistanceTransposed cosineDistanceTransposedQuantized distanceCosine
        distanceCosineTransposed distanceL1 distanceL2 distanceL2Squared distanceL2Transposed distanceLinf
        distanceLp dotProductTransposed dotProductTransposedQuantized L1Distance L1Norm L1Normalize
        L2Distance L2DistanceTransposed L2DistanceTransposedQuantized L2Norm L2Normalize L2SquaredDistance
        L2SquaredNorm LinfDistance LinfNorm LinfNormalize LpDistance LpNorm LpNormalize normalizeL1
        normalizeL2 normalizeLinf normalizeLp normL1 normL2 normL2Squared normLinf normLp
        scalarProductTransposed
    """,
    "Encoding": """
        bin bitmaskToArray bitmaskToList bitPositionsToArray char hex hilbertDecode hilbertEncode
        mortonDecode mortonEncode sqid sqidDecode sqidEncode unbin unhex
    """,
    "Financial": """
        financialInternalRateOfReturn financialInternalRateOfReturnExtended financialNetPresentValue
        financialNetPresentValueExtended
    """,
    "Hash": """
        cityHash64 farmFingerprint64 farmHash64 gccMurmurHash halfMD5 hiveHash icebergHash intHash32
        intHash64 javaHash javaHashUTF16LE jumpConsistentHash kafkaMurmurHash keccak256 kostikConsistentHash
        MD4 MD5 metroHash64 murmurHash2_32 murmurHash2_64 murmurHash3_128 murmurHash3_32 murmurHash3_64
        ngramMinHash ngramMinHashArg ngramMinHashArgCaseInsensitive ngramMinHashArgCaseInsensitiveUTF8
        ngramMinHashArgUTF8 ngramMinHashCaseInsensitive ngramMinHashCaseInsensitiveUTF8 ngramMinHashUTF8
        ngramSimHash ngramSimHashCaseInsensitive ngramSimHashCaseInsensitiveUTF8 ngramSimHashUTF8 RIPEMD160
        SHA1 SHA224 SHA256 SHA384 SHA512 SHA512_256 sipHash128 sipHash128Keyed sipHash128Reference
        sipHash128ReferenceKeyed sipHash64 sipHash64Keyed URLHash wordShingleMinHash wordShingleMinHashArg
        wordShingleMinHashArgCaseInsensitive wordShingleMinHashArgCaseInsensitiveUTF8
        wordShingleMinHashArgUTF8 wordShingleMinHashCaseInsensitive wordShingleMinHashCaseInsensitiveUTF8
        wordShingleMinHashUTF8 wordShingleSimHash wordShingleSimHashCaseInsensitive
        wordShingleSimHashCaseInsensitiveUTF8 wordShingleSimHashUTF8 wyHash64 xxh3 xxh3_128 xxHash32
        xxHash64 xxHash64Spark yandexConsistentHash
    """,
    "IP Address": """
        cutIPv6 INET6_ATON INET6_NTOA INET_ATON INET_NTOA IPv4CIDRToRange IPv4NumToString
        IPv4NumToStringClassC IPv4StringToNum IPv4StringToNumOrDefault IPv4StringToNumOrNull IPv4ToIPv6
        IPv6CIDRToRange IPv6NumToString IPv6StringToNum IPv6StringToNumOrDefault IPv6StringToNumOrNull
        isIPAddressInRange isIPv4String isIPv6String toIPv4 toIPv4OrDefault toIPv4OrNull toIPv4OrZero toIPv6
        toIPv6OrDefault toIPv6OrNull toIPv6OrZero
    """,
    "JSON": """
        dynamicElement dynamicType isDynamicElementInSharedData isValidJSON JSON_ARRAY_LENGTH JSON_EXISTS
        JSON_QUERY JSON_VALUE JSONAllPaths JSONAllPathsWithTypes JSONAllValues JSONArrayLength
        JSONDynamicPaths JSONDynamicPathsWithTypes JSONExtract JSONExtractArrayRaw
        JSONExtractArrayRawCaseInsensitive JSONExtractBool JSONExtractBoolCaseInsensitive
        JSONExtractCaseInsensitive JSONExtractFloat JSONExtractFloatCaseInsensitive JSONExtractInt
        JSONExtractIntCaseInsensitive JSONExtractKeys JSONExtractKeysAndValues
        JSONExtractKeysAndValuesCaseInsensitive JSONExtractKeysAndValuesRaw
        JSONExtractKeysAndValuesRawCaseInsensitive JSONExtractKeysCaseInsensitive JSONExtractRaw
        JSONExtractRawCaseInsensitive JSONExtractString JSONExtractStringCaseInsensitive JSONExtractUInt
        JSONExtractUIntCaseInsensitive JSONHas JSONKey JSONLength JSONMergePatch jsonMergePatch
        JSONSharedDataPaths JSONSharedDataPathsWithTypes JSONType prettyPrintJSON simpleJSONExtractBool
        simpleJSONExtractFloat simpleJSONExtractInt simpleJSONExtractRaw simpleJSONExtractString
        simpleJSONExtractUInt simpleJSONHas toJSONString visitParamExtractBool visitParamExtractFloat
        visitParamExtractInt visitParamExtractRaw visitParamExtractString visitParamExtractUInt
        visitParamHas
    """,
    "Logical": """
        and not or xor
    """,
    "Map": """
        extractKeyValuePairs extractKeyValuePairsWithEscaping map MAP_FROM_ARRAYS mapAdd mapAll mapApply
        mapConcat mapContains mapContainsKey mapContainsKeyLike mapContainsValue mapContainsValueLike
        mapExists mapExtractKeyLike mapExtractValueLike mapFilter mapFromArrays mapFromString mapKeys
        mapPartialReverseSort mapPartialSort mapReverseSort mapSort mapSubtract mapUpdate mapValues
        str_to_map
    """,
    "Mathematical": """
        acos acosh asin asinh atan atan2 atanh cbrt cos cosh degrees e erf erfc exp exp10 exp2 factorial
        hypot intExp10 intExp2 isPrime isProbablePrime lgamma ln log log10 log1p log2 pi pow power
        proportionsZTest radians sigmoid sign sin sinh sqrt tan tanh tgamma width_bucket widthBucket
    """,
    "Null": """
        assumeNotNull coalesce firstNonDefault ifNull isNotNull isNull isNullable isZeroOrNull nullIf
        toNullable
    """,
    "Other": """
        bar blockNumber blockSize byteSize colorOKLABToSRGB colorOKLCHToSRGB colorSRGBToOKLAB
        colorSRGBToOKLCH countDigits defaultValueOfArgumentType defaultValueOfTypeName errorCodeToName
        finalizeAggregation FORMAT_BYTES formatReadableDecimalSize formatReadableQuantity formatReadableSize
        formatReadableTimeDelta getSizeOfEnumType getSubcolumn identity ignore initializeAggregation
        isConstant isDecimalOverflow lowCardinalityIndices lowCardinalityKeys MACNumToString MACStringToNum
        MACStringToOUI materialize minSampleSizeContinous minSampleSizeContinuous minSampleSizeConversion
        neighbor parseISO8601Duration parseReadableSize parseReadableSizeOrNull parseReadableSizeOrZero
        parseTimeDelta rowNumberInAllBlocks rowNumberInBlock runningAccumulate runningConcurrency
        runningDifference runningDifferenceStartingWithFirstValue throwIf toColumnTypeName toTypeName
        transform variantElement variantType visibleWidth
    """,
    "Random Number": """
        rand rand32 rand64 randBernoulli randBinomial randCanonical randChiSquared randConstant
        randExponential randFisherF randLogNormal randNegativeBinomial randNormal randPoisson randStudentT
        randUniform
    """,
    "Rounding": """
        ceil ceiling floor round roundAge roundBankers roundDown roundDuration roundToExp2 trunc truncate
    """,
    "String": """
        appendTrailingCharIfAbsent ascii base32Decode base32Encode base58Decode base58Encode base64Decode
        base64Encode base64URLDecode base64URLEncode basename byteHammingDistance byteSlice caseFoldUTF8
        CHAR_LENGTH CHARACTER_LENGTH compareSubstrings concat concat_ws concatAssumeInjective
        concatWithSeparator concatWithSeparatorAssumeInjective conv convertCharset CRC32 CRC32IEEE CRC64
        decodeHTMLComponent decodeXMLComponent encodeXMLComponent endsWith endsWithCaseInsensitive
        endsWithCaseInsensitiveUTF8 endsWithUTF8 extractTextFromHTML firstLine FROM_BASE64 initcap
        initcapUTF8 isASCII isValidASCII isValidUTF8 lcase left leftPad leftPadUTF8 leftUTF8 lengthUTF8
        lower lowerUTF8 lpad ltrim mid mismatches NATURAL_SORT_KEY naturalSortKey normalizeUTF8NFC
        normalizeUTF8NFD normalizeUTF8NFKC normalizeUTF8NFKCCasefold normalizeUTF8NFKD REGEXP_EXTRACT
        regexp_instr REGEXP_SUBSTR regexpExtract regexpInstr regexpPosition removeAccentsUTF8
        removeDiacriticsUTF8 repeat reverseUTF8 right rightPad rightPadUTF8 rightUTF8 rpad rtrim soundex
        space sparseGrams sparseGramsHashes sparseGramsHashesUTF8 sparseGramsUTF8 startsWith
        startsWithCaseInsensitive startsWithCaseInsensitiveUTF8 startsWithUTF8 stringBytesEntropy
        stringBytesUniq stringJaccardIndex stringJaccardIndexUTF8 substr substring SUBSTRING_INDEX
        substringIndex substringIndexUTF8 substringUTF8 TO_BASE64 toValidUTF8 trim trimBoth trimLeft
        trimRight tryBase32Decode tryBase58Decode tryBase64Decode tryBase64URLDecode ucase upper upperUTF8
    """,
    "String Replacement": """
        format overlay overlayUTF8 printf REGEXP_REPLACE regexpQuoteMeta replace replaceAll replaceOne
        replaceRegexpAll replaceRegexpOne translate translateUTF8
    """,
    "String Search": """
        countMatches countMatchesCaseInsensitive countSubstrings countSubstringsCaseInsensitive
        countSubstringsCaseInsensitiveUTF8 extract extractAll extractAllGroupsHorizontal extractGroups
        hasAllToken hasAllTokens hasAnyToken hasAnyTokens hasPhrase hasSubsequence
        hasSubsequenceCaseInsensitive hasSubsequenceCaseInsensitiveUTF8 hasSubsequenceUTF8 hasToken
        hasTokenCaseInsensitive hasTokenCaseInsensitiveOrNull hasTokenOrNull highlight ilike instr like
        locate match matchCaseInsensitive matchPhrase multiSearchAllPositions
        multiSearchAllPositionsCaseInsensitive multiSearchAllPositionsCaseInsensitiveUTF8
        multiSearchAllPositionsUTF8 multiSearchAny multiSearchAnyCaseInsensitive
        multiSearchAnyCaseInsensitiveUTF8 multiSearchAnyUTF8 multiSearchFirstIndex
        multiSearchFirstIndexCaseInsensitive multiSearchFirstIndexCaseInsensitiveUTF8
        multiSearchFirstIndexUTF8 multiSearchFirstPosition multiSearchFirstPositionCaseInsensitive
        multiSearchFirstPositionCaseInsensitiveUTF8 multiSearchFirstPositionUTF8 ngramDistance
        ngramDistanceCaseInsensitive ngramDistanceCaseInsensitiveUTF8 ngramDistanceUTF8 ngramSearch
        ngramSearchCaseInsensitive ngramSearchCaseInsensitiveUTF8 ngramSearchUTF8 notILike notLike notMatch
        notMatchCaseInsensitive position positionCaseInsensitive positionCaseInsensitiveUTF8 positionUTF8
        REGEXP_MATCHES
    """,
    "String Splitting": """
        alphaTokens array_to_string arrayStringConcat extractAllGroups extractAllGroupsVertical
        naiveBayesNgrams ngrams reverseBySeparator splitByAlpha splitByChar splitByNonAlpha splitByRegexp
        splitByString splitByWhitespace tokens tokensForLikePattern
    """,
    "Tuple": """
        dotProduct flattenTuple scalarProduct tuple tupleConcat tupleDivide tupleDivideByNumber tupleElement
        tupleHammingDistance tupleIntDiv tupleIntDivByNumber tupleIntDivOrZero tupleIntDivOrZeroByNumber
        tupleMinus tupleModulo tupleModuloByNumber tupleMultiply tupleMultiplyByNumber tupleNames
        tupleNegate tuplePlus tuplePositiveModuloByNumber tupleToNameValuePairs vectorDifference vectorSum
    """,
    "Type Conversion": """
        accurateCast accurateCastOrDefault accurateCastOrNull CAST DATE fromUnixTimestamp64Micro
        fromUnixTimestamp64Milli fromUnixTimestamp64Nano fromUnixTimestamp64Second parseDateTime
        parseDateTime32BestEffort parseDateTime32BestEffortOrNull parseDateTime32BestEffortOrZero
        parseDateTime64 parseDateTime64BestEffort parseDateTime64BestEffortOrNull
        parseDateTime64BestEffortOrZero parseDateTime64BestEffortUS parseDateTime64BestEffortUSOrNull
        parseDateTime64BestEffortUSOrZero parseDateTime64InJodaSyntax parseDateTime64InJodaSyntaxOrNull
        parseDateTime64InJodaSyntaxOrZero parseDateTime64OrNull parseDateTime64OrZero
        parseDateTimeBestEffort parseDateTimeBestEffortOrNull parseDateTimeBestEffortOrZero
        parseDateTimeBestEffortUS parseDateTimeBestEffortUSOrNull parseDateTimeBestEffortUSOrZero
        parseDateTimeInJodaSyntax parseDateTimeInJodaSyntaxOrNull parseDateTimeInJodaSyntaxOrZero
        parseDateTimeOrNull parseDateTimeOrZero reinterpret reinterpretAsDate reinterpretAsDateTime
        reinterpretAsFixedString reinterpretAsFloat32 reinterpretAsFloat64 reinterpretAsInt128
        reinterpretAsInt16 reinterpretAsInt256 reinterpretAsInt32 reinterpretAsInt64 reinterpretAsInt8
        reinterpretAsString reinterpretAsUInt128 reinterpretAsUInt16 reinterpretAsUInt256
        reinterpretAsUInt32 reinterpretAsUInt64 reinterpretAsUInt8 reinterpretAsUUID str_to_date TO_UNIXTIME
        toBFloat16 toBFloat16OrNull toBFloat16OrZero toBool toDate toDate32 toDate32OrDefault toDate32OrNull
        toDate32OrZero toDateOrDefault toDateOrNull toDateOrZero toDateTime toDateTime32 toDateTime64
        toDateTime64OrDefault toDateTime64OrNull toDateTime64OrZero toDateTimeOrDefault toDateTimeOrNull
        toDateTimeOrZero toDecimal128 toDecimal128OrDefault toDecimal128OrNull toDecimal128OrZero
        toDecimal256 toDecimal256OrDefault toDecimal256OrNull toDecimal256OrZero toDecimal32
        toDecimal32OrDefault toDecimal32OrNull toDecimal32OrZero toDecimal64 toDecimal64OrDefault
        toDecimal64OrNull toDecimal64OrZero toDecimalString toFixedString toFloat32 toFloat32OrDefault
        toFloat32OrNull toFloat32OrZero toFloat64 toFloat64OrDefault toFloat64OrNull toFloat64OrZero
        toInt128 toInt128OrDefault toInt128OrNull toInt128OrZero toInt16 toInt16OrDefault toInt16OrNull
        toInt16OrZero toInt256 toInt256OrDefault toInt256OrNull toInt256OrZero toInt32 toInt32OrDefault
        toInt32OrNull toInt32OrZero toInt64 toInt64OrDefault toInt64OrNull toInt64OrZero toInt8
        toInt8OrDefault toInt8OrNull toInt8OrZero toInterval toIntervalDay toIntervalHour
        toIntervalMicrosecond toIntervalMillisecond toIntervalMinute toIntervalMonth toIntervalNanosecond
        toIntervalQuarter toIntervalSecond toIntervalWeek toIntervalYear toLowCardinality toString
        toStringCutToZero toTime toTime64 toTime64OrNull toTime64OrZero toTimeOrNull toTimeOrZero toUInt128
        toUInt128OrDefault toUInt128OrNull toUInt128OrZero toUInt16 toUInt16OrDefault toUInt16OrNull
        toUInt16OrZero toUInt256 toUInt256OrDefault toUInt256OrNull toUInt256OrZero toUInt32
        toUInt32OrDefault toUInt32OrNull toUInt32OrZero toUInt64 toUInt64OrDefault toUInt64OrNull
        toUInt64OrZero toUInt8 toUInt8OrDefault toUInt8OrNull toUInt8OrZero toUnixTimestamp64Micro
        toUnixTimestamp64Milli toUnixTimestamp64Nano toUnixTimestamp64Second toUUID toUUIDOrZero
    """,
    "URL": """
        cutFragment cutQueryString cutQueryStringAndFragment cutToFirstSignificantSubdomain
        cutToFirstSignificantSubdomainCustom cutToFirstSignificantSubdomainCustomRFC
        cutToFirstSignificantSubdomainCustomWithWWW cutToFirstSignificantSubdomainCustomWithWWWRFC
        cutToFirstSignificantSubdomainRFC cutToFirstSignificantSubdomainWithWWW
        cutToFirstSignificantSubdomainWithWWWRFC cutURLParameter cutWWW decodeURLComponent
        decodeURLFormComponent domain domainRFC domainWithoutWWW domainWithoutWWWRFC encodeURLComponent
        encodeURLFormComponent extractURLParameter extractURLParameterNames extractURLParameters
        firstSignificantSubdomain firstSignificantSubdomainCustom firstSignificantSubdomainCustomRFC
        firstSignificantSubdomainRFC fragment netloc path pathFull port portRFC protocol queryString
        queryStringAndFragment topLevelDomain topLevelDomainRFC URLHierarchy URLPathHierarchy
    """,
    "UUID": """
        dateTime64ToSnowflakeID dateTimeToSnowflakeID generateUUIDv4
        snowflakeIDToDateTime snowflakeIDToDateTime64 toUUIDOrDefault toUUIDOrNull UUIDNumToString
        UUIDStringToNum UUIDToNum UUIDv7ToDateTime
    """,
}

# Every other name ClickHouse 26.9 lists in system.functions, refused on purpose (one line per reason's category).
_REFUSED_BY_CATEGORY: dict[str, str] = {
    "AI": """
        aiClassify AIClassify aiEmbed AIEmbed AIExtract aiExtract AIFilter aiFilter aiGenerate AIGenerate
        aiRedact AIRedact aiSimilarity AISimilarity AITranslate aiTranslate
    """,
    "Aggregate Functions": """
        aggThrow flameGraph groupFormat groupNumericIndexedVector
    """,
    "Arithmetic": """
        kqlBin kqlBinAt kqlDateTimeBinAt kqlDivide kqlMultiply kqlRangeCount
    """,
    "Arrays": """
        arrayFold arrayLevenshteinDistance arrayLevenshteinDistanceWeighted arraySimilarity
    """,
    "Comparison": """
        globalIn globalInIgnoreSet globalNotIn globalNotInIgnoreSet globalNotNullIn globalNotNullInIgnoreSet
        globalNullIn globalNullInIgnoreSet in inIgnoreSet notIn notInIgnoreSet notNullIn notNullInIgnoreSet
        nullIn nullInIgnoreSet
    """,
    "Dates and Times": """
        serverTimeZone serverTimezone timezone timeZone
    """,
    "Dictionary": """
        dictGet dictGetAll dictGetChildren dictGetDate dictGetDateOrDefault dictGetDateTime
        dictGetDateTimeOrDefault dictGetDescendants dictGetFloat32 dictGetFloat32OrDefault dictGetFloat64
        dictGetFloat64OrDefault dictGetHierarchy dictGetInt16 dictGetInt16OrDefault dictGetInt32
        dictGetInt32OrDefault dictGetInt64 dictGetInt64OrDefault dictGetInt8 dictGetInt8OrDefault
        dictGetIPv4 dictGetIPv4OrDefault dictGetIPv6 dictGetIPv6OrDefault dictGetKeys dictGetOrDefault
        dictGetOrNull dictGetRoot dictGetString dictGetStringOrDefault dictGetUInt16 dictGetUInt16OrDefault
        dictGetUInt32 dictGetUInt32OrDefault dictGetUInt64 dictGetUInt64OrDefault dictGetUInt8
        dictGetUInt8OrDefault dictGetUUID dictGetUUIDOrDefault dictHas dictIsIn
    """,
    "Embedded Dictionary": """
        regionHierarchy regionIn regionToArea regionToCity regionToContinent regionToCountry
        regionToDistrict regionToName regionToPopulation regionToTopContinent
    """,
    "Encryption": """
        aes_decrypt_mysql aes_encrypt_mysql decrypt encrypt HMAC tryDecrypt
    """,
    "Geo": """
        areaCartesian areaSpherical geoDistance geohashDecode geohashEncode geohashesInBox
        geometryIntersectCartesian geometryIntersectSpherical geoToH3 geoToMGRS geoToUTM greatCircleAngle
        greatCircleDistance h3CellAreaM2 h3CellAreaRads2 h3Distance h3EdgeAngle h3EdgeLengthKm h3EdgeLengthM
        h3ExactEdgeLengthKm h3ExactEdgeLengthM h3ExactEdgeLengthRads h3GetBaseCell
        h3GetDestinationIndexFromUnidirectionalEdge h3GetFaces h3GetIndexesFromUnidirectionalEdge
        h3GetOriginIndexFromUnidirectionalEdge h3GetPentagonIndexes h3GetRes0Indexes h3GetResolution
        h3GetUnidirectionalEdge h3GetUnidirectionalEdgeBoundary h3GetUnidirectionalEdgesFromHexagon
        h3HexAreaKm2 h3HexAreaM2 h3HexRing h3IndexesAreNeighbors h3IsPentagon h3IsResClassIII h3IsValid
        h3kRing h3Line h3NumHexagons h3PointDistKm h3PointDistM h3PointDistRads h3PolygonToCells
        h3PolygonToCellsWithContainment h3ToCenterChild h3ToChildren h3ToGeo h3ToGeoBoundary h3ToParent
        h3ToString h3UnidirectionalEdgeIsValid MGRSToGeo MVTBoundingBox MVTBoundingBoxMercator
        perimeterCartesian perimeterSpherical pointInEllipses pointInPolygon polygonsIntersectCartesian
        polygonsIntersectSpherical readWkb readWKB readWKT readWkt stringToH3 svg SVG UTMToGeo wkb WKB WKT
        wkt
    """,
    "Geo Polygon": """
        MVTEncode MVTEncodeGeom polygonAreaCartesian polygonAreaSpherical polygonConvexHullCartesian
        polygonPerimeterCartesian polygonPerimeterSpherical polygonsDistanceCartesian
        polygonsDistanceSpherical polygonsEqualsCartesian polygonsIntersectionCartesian
        polygonsIntersectionSpherical polygonsSymDifferenceCartesian polygonsSymDifferenceSpherical
        polygonsUnionCartesian polygonsUnionSpherical polygonsWithinCartesian polygonsWithinSpherical
        readWKBLineString readWKBMultiLineString readWKBMultiPoint readWKBMultiPolygon readWKBPoint
        readWKBPolygon readWKTLineString readWKTMultiLineString readWKTMultiPoint readWKTMultiPolygon
        readWKTPoint readWKTPolygon readWKTRing ST_AsMVT ST_AsMVTGeom ST_LineFromWKB ST_MLineFromWKB
        ST_MPointFromWKB ST_MPolyFromWKB ST_PointFromWKB ST_PolyFromWKB
    """,
    "Internal": """
        __actionName __applyFilter __bitBoolMaskAnd __bitBoolMaskOr __bitSwapLastTwo __bitWrapperFunc
        __getScalar __groupingForCube __groupingForGroupingSets __groupingForRollup __groupingOrdinary
        __patchPartitionID __scalarSubqueryResult __toYearCalendarOnly _CAST caseWithExpr caseWithExpression
        nested validateNestedArraySizes
    """,
    "Introspection": """
        addressToLine addressToLineWithInlines addressToSymbol demangle isMergeTreePartCoveredBy logTrace
        mergeTreePartInfo tid
    """,
    "Machine Learning": """
        assignCentroid evalMLMethod hierarchicalKMeans naiveBayesClassifier naiveBayesClassifierWithAllProbs
        naiveBayesClassifierWithProb stochasticLinearRegression stochasticLogisticRegression
    """,
    "Map": """
        mapPopulateSeries
    """,
    "NumericIndexedVector": """
        numericIndexedVectorAllValueSum numericIndexedVectorBuild numericIndexedVectorCardinality
        numericIndexedVectorGetValue numericIndexedVectorPointwiseAdd numericIndexedVectorPointwiseDivide
        numericIndexedVectorPointwiseEqual numericIndexedVectorPointwiseGreater
        numericIndexedVectorPointwiseGreaterEqual numericIndexedVectorPointwiseLess
        numericIndexedVectorPointwiseLessEqual numericIndexedVectorPointwiseMultiply
        numericIndexedVectorPointwiseNotEqual numericIndexedVectorPointwiseSubtract
        numericIndexedVectorShortDebugString numericIndexedVectorToMap
    """,
    "Other": """
        authenticatedUser authUser blockSerializedSize buildId connection_id connectionId current_database
        current_query_id current_schemas current_user currentDatabase currentHandler currentProfiles
        currentQueryID currentRequestURL currentRoles currentSchemas currentUser DATABASE defaultProfiles
        defaultRoles digits displayName dumpColumnStructure enabledProfiles enabledRoles file
        filesystemAvailable filesystemCapacity filesystemUnreserved flipCoordinates formatQuery
        formatQueryFromJSON formatQueryOrNull formatQuerySingleLine formatQuerySingleLineOrNull FQDN
        fullHostName fuzzQuery generateRandomStructure generateSerialID getClientHTTPHeader getMacro
        getMaxTableNameLengthForDatabase getMergeTreeSetting getOSKernelVersion getServerPort
        getServerSetting getSetting getSettingOrDefault getTypeSerializationStreams globalVariable
        hasColumnInTable hasThreadFuzzer highlightQuery hostName hostname icebergBucket icebergTruncate
        indexHint initial_query_id initial_query_start_time initialQueryID initialQueryStartTime joinGet
        joinGetOrNull normalizedQueryHash normalizedQueryHashKeepNames normalizeQuery
        normalizeQueryKeepNames obfuscateQuery obfuscateQueryWithSeed parseQueryToJSON partitionId
        partitionID pg_get_userbyid pg_table_is_visible pgGetUserById pgTableIsVisible query_id queryID
        revision SCHEMA serverUUID session_user shardCount shardNum showCertificate sleep sleepEachRow
        structureToCapnProtoSchema structureToProtobufSchema tcpPort tokenizeQuery transactionID
        transactionLatestSnapshot transactionOldestSnapshot uptime user version zookeeperSessionUptime
    """,
    "QBit": """
        dequantizeInt8ToBFloat16 quantizeBFloat16ToInt8
    """,
    "Random Number": """
        fuzzBits randomFixedString randomPrintableASCII randomString randomStringUTF8
    """,
    "String": """
        chdb damerauLevenshteinDistance editDistance editDistanceUTF8 jaroSimilarity jaroWinklerSimilarity
        levenshteinDistance levenshteinDistanceUTF8
    """,
    "String Search": """
        multiFuzzyMatchAllIndices multiFuzzyMatchAny multiFuzzyMatchAnyIndex multiMatchAllIndices
        multiMatchAny multiMatchAnyIndex
    """,
    "Time Series": """
        seriesDecomposeSTL seriesOutliersDetectTukey timeSeriesCopyTag timeSeriesCopyTags
        timeSeriesExtractTag timeSeriesFromGrid timeSeriesGroupToSamplingKey timeSeriesGroupToTags
        timeSeriesIdToGroup timeSeriesIdToTags timeSeriesIdToTagsGroup timeSeriesJoinTags
        timeSeriesMetricTypeToSuffixes timeSeriesPrometheusValueToString timeSeriesRange
        timeSeriesRemoveAllTagsExcept timeSeriesRemoveTag timeSeriesRemoveTags timeSeriesReplaceTag
        timeSeriesStoreTags timeSeriesTagsGroupToTags timeSeriesTagsToGroup timeSeriesTagsToMap
        timeSeriesThrowDuplicateSeriesIf
    """,
    "Time Window": """
        hop hopEnd hopStart tumble tumbleEnd tumbleStart
    """,
    "Type Conversion": """
        formatRow formatRowNoNewline kqlParameterCast kqlToTimespan
    """,
    "UUID": """
        dateTimeToUUIDv7 generateSnowflakeID generateUUIDv7
    """,
}

# Aggregate function combinators (system.aggregate_function_combinators, minus the internal Null and Tuple).
COMBINATORS: tuple[str, ...] = (
    "If",
    "Array",
    "Map",
    "SimpleState",
    "State",
    "Merge",
    "ForEach",
    "Distinct",
    "OrDefault",
    "OrNull",
    "Resample",
    "ArgMin",
    "ArgMax",
)

# sqlglot parses some functions (and some syntax) into its own classes and prints them under another name. A class is
# allowed when its sqlglot spelling (the class's first SQL name, lower-cased) is a key here; the value is the ClickHouse
# function sqlglot prints it as (or the syntax it prints), which must itself be allowed.
SQLGLOT_SPELLINGS: dict[str, str] = {
    # syntax
    "and": "and",
    "or": "or",
    "xor": "xor",
    "case": "CASE",
    "if": "if",
    "cast": "CAST",
    "try_cast": "CAST",
    "exists": "exists",
    "extract": "EXTRACT",
    "columns": "COLUMNS",
    "array": "array",
    "struct": "tuple",
    "var_map": "map",
    "count_if": "countIf",
    # functions
    "abs": "abs",
    "acos": "acos",
    "acosh": "acosh",
    "any_value": "any",
    "approx_distinct": "uniq",
    "approx_top_k": "approx_top_k",
    "arg_max": "argMax",
    "arg_min": "argMin",
    "array_agg": "array_agg",
    "array_compact": "arrayCompact",
    "array_concat": "arrayConcat",
    "array_concat_agg": "array_concat_agg",
    "array_contains": "has",
    "array_distinct": "arrayDistinct",
    "array_except": "arrayExcept",
    "array_max": "arrayMax",
    "array_min": "arrayMin",
    "array_remove": "arrayFilter",
    "array_reverse": "arrayReverse",
    "array_slice": "arraySlice",
    "array_sum": "arraySum",
    "array_to_string": "array_to_string",
    "ascii": "ascii",
    "asin": "asin",
    "asinh": "asinh",
    "atan": "atan",
    "atan2": "atan2",
    "atanh": "atanh",
    "avg": "avg",
    "bitwise_and_agg": "groupBitAnd",
    "bitwise_or_agg": "groupBitOr",
    "bitwise_xor_agg": "groupBitXor",
    "cbrt": "cbrt",
    "ceil": "ceil",
    "chr": "char",
    "city_hash64": "cityHash64",
    "coalesce": "coalesce",
    "concat": "concat",
    "concat_ws": "concat_ws",
    "corr": "corr",
    "cos": "cos",
    "cosh": "cosh",
    "cosine_distance": "cosineDistance",
    "count": "count",
    "covar_pop": "COVAR_POP",
    "covar_samp": "COVAR_SAMP",
    "cume_dist": "cume_dist",
    "current_date": "current_date",
    "current_timestamp": "current_timestamp",
    "date": "DATE",
    "date_add": "DATE_ADD",
    "date_bin": "date_bin",
    "date_trunc": "dateTrunc",
    "datediff": "DATE_DIFF",
    "day": "DAY",
    "day_of_month": "toDayOfMonth",
    "day_of_week": "DAYOFWEEK",
    "day_of_year": "toDayOfYear",
    "dayofweek_iso": "toDayOfWeek",
    "degrees": "degrees",
    "dense_rank": "dense_rank",
    "ends_with": "endsWith",
    "exp": "exp",
    "explode": "arrayJoin",
    "factorial": "factorial",
    "farm_fingerprint": "farmFingerprint64",
    "filter": "arrayFilter",
    "first_value": "first_value",
    "flatten": "flatten",
    "floor": "floor",
    "format": "format",
    "from_base64": "FROM_BASE64",
    "greatest": "greatest",
    "group_concat": "groupConcat",
    "hex": "hex",
    "hour": "HOUR",
    "initcap": "initcap",
    "is_inf": "isInfinite",
    "is_nan": "isNaN",
    "json_extract": "JSONExtractRaw",
    "json_extract_scalar": "JSONExtractString",
    "lag": "lag",
    "last_day": "LAST_DAY",
    "last_value": "last_value",
    "lead": "lead",
    "least": "least",
    "left": "left",
    "length": "length",
    "ln": "ln",
    "localtime": "localtime",
    "localtimestamp": "localtimestamp",
    "log": "log",
    "lower": "lower",
    "max": "max",
    "md5_digest": "MD5",
    "min": "min",
    "minute": "MINUTE",
    "month": "MONTH",
    "monthname": "monthName",
    "nth_value": "nth_value",
    "ntile": "ntile",
    "nullif": "nullIf",
    "overlay": "overlay",
    "pad": "leftPad",
    "parse_datetime": "parseDateTime",
    "percent_rank": "percent_rank",
    "pi": "pi",
    "power": "pow",
    "quantile": "quantile",
    "quarter": "QUARTER",
    "radians": "radians",
    "rand": "randCanonical",
    "rank": "rank",
    "regexp_count": "countMatches",
    "regexp_extract": "regexpExtract",
    "regexp_instr": "regexp_instr",
    "regexp_like": "match",
    "regexp_replace": "REGEXP_REPLACE",
    "regexp_split": "splitByRegexp",
    "regr_avgx": "regr_avgx",
    "regr_avgy": "regr_avgy",
    "regr_count": "regr_count",
    "regr_intercept": "regr_intercept",
    "regr_r2": "regr_r2",
    "regr_slope": "regr_slope",
    "regr_sxx": "regr_sxx",
    "regr_sxy": "regr_sxy",
    "regr_syy": "regr_syy",
    "repeat": "repeat",
    "replace": "replace",
    "reverse": "reverse",
    "right": "right",
    "round": "round",
    "row_number": "row_number",
    "second": "SECOND",
    "sha": "SHA1",
    "sha2": "SHA256",
    "sign": "sign",
    "sin": "sin",
    "sinh": "sinh",
    "soundex": "soundex",
    "space": "repeat",
    "split": "splitByString",
    "sqrt": "sqrt",
    "starts_with": "startsWith",
    "stddev": "stddevSamp",
    "stddev_pop": "STDDEV_POP",
    "stddev_samp": "STDDEV_SAMP",
    "str_position": "position",
    "str_to_date": "str_to_date",
    "str_to_map": "str_to_map",
    "substring": "substring",
    "substring_index": "substringIndex",
    "sum": "sum",
    "tan": "tan",
    "tanh": "tanh",
    "time_to_str": "formatDateTime",
    "timestamp": "timestamp",
    "timestamp_trunc": "dateTrunc",
    "timestampdiff": "TIMESTAMP_DIFF",
    "to_base64": "TO_BASE64",
    "to_days": "TO_DAYS",
    "transform": "arrayMap",
    "translate": "translate",
    "trim": "trim",
    "trunc": "trunc",
    "typeof": "toTypeName",
    "unhex": "unhex",
    "upper": "upper",
    "utc_timestamp": "UTCTimestamp",
    "variance": "varSamp",
    "variance_pop": "varPop",
    "week": "week",
    "week_of_year": "toISOWeek",
    "width_bucket": "width_bucket",
    "year": "YEAR",
    "year_of_week_iso": "toISOYear",
}


def _names(by_category: dict[str, str]) -> frozenset[str]:
    return frozenset(name for names in by_category.values() for name in names.split())


ALLOWED_FUNCTIONS: frozenset[str] = _names(_ALLOWED_BY_CATEGORY)
AGGREGATE_FUNCTIONS: frozenset[str] = frozenset(_ALLOWED_BY_CATEGORY["Aggregate Functions"].split())
REFUSED_FUNCTIONS: frozenset[str] = _names(_REFUSED_BY_CATEGORY)

_ALLOWED_LOWER = frozenset(name.lower() for name in ALLOWED_FUNCTIONS)
_AGGREGATE_LOWER = frozenset(name.lower() for name in AGGREGATE_FUNCTIONS)
_REFUSED_LOWER = frozenset(name.lower() for name in REFUSED_FUNCTIONS)
_COMBINATORS_LOWER = tuple(sorted((suffix.lower() for suffix in COMBINATORS), key=len, reverse=True))
_MAX_COMBINATORS = 4


@lru_cache(maxsize=4096)
def function_allowed(name: str) -> bool:
    """Whether user SQL may call the ClickHouse function of this name (case-insensitive; combinators on aggregates)."""
    lowered = name.lower()
    if lowered in _ALLOWED_LOWER:
        return True
    if lowered in _REFUSED_LOWER:
        return False
    return _aggregate_with_combinators(lowered, _MAX_COMBINATORS)


def function_refused_by_name(name: str) -> bool:
    """Whether this is the name of a ClickHouse function that is refused on purpose (not merely unknown)."""
    return name.lower() in _REFUSED_LOWER


def _aggregate_with_combinators(lowered: str, depth: int) -> bool:
    if depth == 0:
        return False
    for suffix in _COMBINATORS_LOWER:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            base = lowered[: -len(suffix)]
            if base in _AGGREGATE_LOWER or _aggregate_with_combinators(base, depth - 1):
                return True
    return False


def sqlglot_spelling_allowed(spelling: str) -> bool:
    """Whether a function node sqlglot parsed into one of its own classes (by that class's spelling) is allowed."""
    return spelling.lower() in SQLGLOT_SPELLINGS
